package credupdate

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
	"github.com/gatehouse-idm/gatehouse/idm/pwquality"
	"github.com/gatehouse-idm/gatehouse/idm/totp"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// MaxPasswordBytes bounds what is hashed (argon2id cost does not depend on
// it, but zxcvbn's and the request's do).
const MaxPasswordBytes = 1024

// maxLabel bounds credential labels.
const maxLabel = 64

// QualityError is pwquality's refusal: the API turns it into 400
// password_quality with the zxcvbn feedback.
type QualityError = pwquality.QualityError

// checkPassword applies the account's password rules to pw; s is locked.
func (m *Manager) checkPassword(s *session, pw string) (*entry.Entry, error) {
	e, ok := m.Svc.State.Entry(s.account)
	if !ok {
		return nil, idm.NotFound("the account no longer exists")
	}
	if len(pw) > MaxPasswordBytes {
		return nil, idm.Invalid("the password is longer than %d bytes", MaxPasswordBytes)
	}
	if err := pwquality.CheckAccount(m.Svc.State, e, pw); err != nil {
		return nil, err
	}
	return e, nil
}

// CheckPassword tells whether pw would be accepted, changing nothing (the
// web page's as-you-type feedback). The error is a *QualityError when the
// password is refused.
func (m *Manager) CheckPassword(id string, c Caller, pw string) error {
	s, err := m.take(id, c, read)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	_, err = m.checkPassword(s, pw)
	return err
}

// SetPassword replaces the working copy's password with an argon2id hash
// of pw, once pw passes the quality rules.
func (m *Manager) SetPassword(ctx context.Context, id string, c Caller, pw string) (Status, error) {
	s, err := m.take(id, c, write)
	if err != nil {
		return Status{}, err
	}
	defer s.mu.Unlock()
	e, err := m.checkPassword(s, pw)
	if err != nil {
		return Status{}, err
	}
	phc, err := m.Svc.Hasher.Hash(ctx, pw)
	if err != nil {
		return Status{}, err
	}
	s.creds.PasswordHash = phc
	s.creds.PasswordGenerated = false
	return m.status(s, e), nil
}

func cleanLabel(label, def string) (string, error) {
	label = strings.TrimSpace(label)
	if label == "" {
		label = def
	}
	if utf8.RuneCountInString(label) > maxLabel || strings.ContainsFunc(label, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", idm.Invalid("a label has at most %d characters and no control characters", maxLabel)
	}
	return label, nil
}

// GenerateTOTP makes a new TOTP secret, pending until a code from it is
// verified. algo is SHA256 (default), SHA512 or SHA1 (which the verify
// step refuses unless the user accepts it).
func (m *Manager) GenerateTOTP(id string, c Caller, label, algo string) (*totp.Enrolment, error) {
	s, err := m.take(id, c, write)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	label, err = cleanLabel(label, "totp")
	if err != nil {
		return nil, err
	}
	algo = strings.ToUpper(strings.TrimSpace(algo))
	switch algo {
	case "":
		algo = "SHA256"
	case "SHA1", "SHA256", "SHA512":
	default:
		return nil, idm.Invalid("unknown TOTP algorithm %q: use SHA256, SHA512 or SHA1", algo)
	}
	for _, t := range s.creds.TOTP {
		if t.Label == label {
			return nil, idm.Conflict("there is already a TOTP labelled %q: choose another label or remove it first", label)
		}
	}
	e, ok := m.Svc.State.Entry(s.account)
	if !ok {
		return nil, idm.NotFound("the account no longer exists")
	}
	domain := m.Svc.State.System().Domain
	en, err := totp.Generate(m.Sealer, domain, e.UUID, e.Name+"@"+domain, uuid.NewString(), label, algo, m.now())
	if err != nil {
		return nil, err
	}
	s.totp = en
	return en, nil
}

// VerifyTOTP keeps the pending TOTP once code matches it. A SHA1 generator
// is kept only with acceptSHA1: some authenticator apps ignore the
// algorithm in the URI and compute SHA1 codes anyway, but SHA1 should be a
// deliberate choice.
func (m *Manager) VerifyTOTP(id string, c Caller, code string, acceptSHA1 bool) (Status, error) {
	s, err := m.take(id, c, write)
	if err != nil {
		return Status{}, err
	}
	defer s.mu.Unlock()
	if s.totp == nil {
		return Status{}, idm.Invalid("no TOTP is waiting for verification: generate one first")
	}
	cred := s.totp.Cred
	if cred.Algorithm == "SHA1" && !acceptSHA1 {
		return Status{}, idm.Invalid("this TOTP uses SHA1, which is weaker than SHA256: accept SHA1 explicitly (accept_sha1) or generate a SHA256 one")
	}
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	_, ok, err := totp.Verify(m.Sealer, s.account, cred, code, m.now())
	if err != nil {
		return Status{}, err
	}
	if !ok {
		return Status{}, idm.Invalid("the code does not match: check that the device's clock is right and try the current code")
	}
	s.creds.TOTP = append(s.creds.TOTP, cred)
	s.totp = nil
	return m.statusOf(s)
}

// RemoveTOTP removes a TOTP generator from the working copy.
func (m *Manager) RemoveTOTP(id string, c Caller, tid string) (Status, error) {
	s, err := m.take(id, c, write)
	if err != nil {
		return Status{}, err
	}
	defer s.mu.Unlock()
	n := len(s.creds.TOTP)
	s.creds.TOTP = slices.DeleteFunc(s.creds.TOTP, func(t entry.TOTP) bool { return t.ID == tid })
	if len(s.creds.TOTP) == n {
		if s.totp != nil && s.totp.Cred.ID == tid {
			s.totp = nil
			return m.statusOf(s)
		}
		return Status{}, idm.NotFound("no TOTP with id %q", tid)
	}
	return m.statusOf(s)
}

// ParseKind maps "passkey" and "securitykey" to a WebAuthn kind.
func ParseKind(k string) (fido.Kind, error) {
	switch k {
	case "passkey":
		return fido.Passkey, nil
	case "securitykey", "security_key":
		return fido.SecurityKey, nil
	}
	return 0, idm.Invalid("kind must be passkey or securitykey")
}

// BeginWebAuthn starts enrolling a passkey or security key: the returned
// options go to navigator.credentials.create. When the account's policy
// has an attestation CA list, attestation is asked for and enforced.
func (m *Manager) BeginWebAuthn(id string, c Caller, kind fido.Kind, label string) (json.RawMessage, error) {
	if m.RP == nil {
		return nil, idm.Unavailable("WebAuthn is not configured on this server")
	}
	s, err := m.take(id, c, write)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	def := "passkey"
	if kind == fido.SecurityKey {
		def = "security key"
	}
	label, err = cleanLabel(label, def)
	if err != nil {
		return nil, err
	}
	acct, err := m.working(s)
	if err != nil {
		return nil, err
	}
	r := policy.ForAccount(m.Svc.State, s.account)
	opts, state, err := m.RP.BeginRegistration(acct, kind, r.AttestationCAs != nil)
	if err != nil {
		return nil, err
	}
	s.webauthn = &pendingWebAuthn{kind: kind, label: label, state: state, id: uuid.NewString()}
	return opts, nil
}

// FinishWebAuthn checks the authenticator's answer and adds the credential
// to the working copy.
func (m *Manager) FinishWebAuthn(id string, c Caller, response json.RawMessage) (Status, error) {
	if m.RP == nil {
		return Status{}, idm.Unavailable("WebAuthn is not configured on this server")
	}
	s, err := m.take(id, c, write)
	if err != nil {
		return Status{}, err
	}
	defer s.mu.Unlock()
	p := s.webauthn
	if p == nil {
		return Status{}, idm.Invalid("no WebAuthn enrolment is in progress: begin one first")
	}
	s.webauthn = nil // one answer per ceremony, right or wrong
	acct, err := m.working(s)
	if err != nil {
		return Status{}, err
	}
	r := policy.ForAccount(m.Svc.State, s.account)
	cred, err := m.RP.FinishRegistration(acct, p.kind, p.state, response, p.label, p.id, r.AttestationCAs, m.now())
	if err != nil {
		return Status{}, m.webauthnRefusal(err)
	}
	if p.kind == fido.Passkey {
		s.creds.Passkeys = append(s.creds.Passkeys, cred)
	} else {
		s.creds.SecurityKeys = append(s.creds.SecurityKeys, cred)
	}
	return m.statusOf(s)
}

// RemoveWebAuthn removes a passkey or security key from the working copy.
func (m *Manager) RemoveWebAuthn(id string, c Caller, cid string) (Status, error) {
	s, err := m.take(id, c, write)
	if err != nil {
		return Status{}, err
	}
	defer s.mu.Unlock()
	match := func(w entry.WebAuthn) bool { return w.ID == cid }
	n := len(s.creds.Passkeys) + len(s.creds.SecurityKeys)
	s.creds.Passkeys = slices.DeleteFunc(s.creds.Passkeys, match)
	s.creds.SecurityKeys = slices.DeleteFunc(s.creds.SecurityKeys, match)
	if len(s.creds.Passkeys)+len(s.creds.SecurityKeys) == n {
		return Status{}, idm.NotFound("no passkey or security key with id %q", cid)
	}
	return m.statusOf(s)
}

// RemovePassword removes the password from the working copy (a passkey-only
// account).
func (m *Manager) RemovePassword(id string, c Caller) (Status, error) {
	s, err := m.take(id, c, write)
	if err != nil {
		return Status{}, err
	}
	defer s.mu.Unlock()
	s.creds.PasswordHash, s.creds.PasswordGenerated = "", false
	return m.statusOf(s)
}

// working is the account as it would be with the working copy's
// credentials (WebAuthn excludes what is already enrolled, committed or not).
func (m *Manager) working(s *session) (*entry.Entry, error) {
	e, ok := m.Svc.State.Entry(s.account)
	if !ok {
		return nil, idm.NotFound("the account no longer exists")
	}
	e = e.Clone()
	e.Credentials = s.creds.Clone()
	return e, nil
}

// Commit writes the working copy as one credential.commit command and
// closes the session. It refuses credentials that allow no login, or none
// at the account's credential-type minimum.
func (m *Manager) Commit(ctx context.Context, id string, c Caller) (uint64, error) {
	s, err := m.take(id, c, write)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	e, ok := m.Svc.State.Entry(s.account)
	if !ok {
		m.drop(s)
		return 0, idm.NotFound("the account no longer exists")
	}
	if err := commitCheck(e.Class, s.creds, policy.ForAccount(m.Svc.State, e.UUID)); err != nil {
		return 0, idm.Invalid("%v", err)
	}
	actor := idm.Actor{UUID: e.UUID, Name: e.Name}
	creds := s.creds.Clone()
	if err := m.resealStale(e.UUID, &creds); err != nil {
		return 0, err
	}
	idx, err := m.Svc.CommitCredentials(ctx, actor, e.UUID, s.version, creds, s.resetHash)
	if err != nil {
		if ie := idm.AsError(err); ie.Code == "conflict" {
			m.drop(s)
			return 0, idm.Conflict("the account's credentials changed since this update began: open a new one")
		}
		return 0, err
	}
	m.drop(s)
	return idx, nil
}

// resealStale seals again, under the current key, any TOTP secret sealed
// under another one: a TOTP generated before an encryption-key rotation
// finished would otherwise land in the state under a key that is gone.
func (m *Manager) resealStale(account string, c *entry.Credentials) error {
	cur := m.Sealer.Current()
	for i, t := range c.TOTP {
		if id, ok := seal.KeyOf(t.SealedSecret); ok && id == cur {
			continue
		}
		aad := entry.TOTPAAD(account, t.ID)
		plain, err := m.Sealer.Open(t.SealedSecret, aad)
		if err != nil {
			return idm.Conflict("the encryption key changed while this update was open and its TOTP secret can no longer be read: start the update again")
		}
		fresh, err := m.Sealer.Seal(plain, aad)
		clear(plain)
		if err != nil {
			return err
		}
		c.TOTP[i].SealedSecret = fresh
	}
	return nil
}

// webauthnRefusal turns a fido error into the user's answer: the reason,
// without the library's detail, which goes to the log.
func (m *Manager) webauthnRefusal(err error) error {
	var ie *idm.Error
	if errors.As(err, &ie) {
		return ie
	}
	if m.Svc.Log != nil {
		m.Svc.Log.Info("webauthn enrolment refused", "error", err)
	}
	for _, reason := range []error{fido.ErrState, fido.ErrMalformed, fido.ErrWrongOrigin, fido.ErrWrongRP, fido.ErrChallenge,
		fido.ErrBadSignature, fido.ErrUserNotVerified, fido.ErrUserNotPresent, fido.ErrAlreadyRegistered,
		fido.ErrBadAttestation, fido.ErrNotTrusted} {
		if errors.Is(err, reason) {
			return idm.Invalid("the authenticator's answer was refused: %v", reason)
		}
	}
	return idm.Invalid("the authenticator's answer was refused: %v", fido.ErrVerification)
}
