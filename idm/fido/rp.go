package fido

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Kind is what a WebAuthn credential is used as.
type Kind int

const (
	// Passkey: a discoverable credential with user verification, a whole
	// login on its own.
	Passkey Kind = iota
	// SecurityKey: a second factor next to a password; user verification
	// is discouraged so a key without a PIN works.
	SecurityKey
)

// String is the kind's wire name ("passkey", "securitykey").
func (k Kind) String() string {
	if k == SecurityKey {
		return "securitykey"
	}
	return "passkey"
}

// ParseKind reads a wire name.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "passkey":
		return Passkey, nil
	case "securitykey":
		return SecurityKey, nil
	}
	return 0, fmt.Errorf("unknown webauthn credential kind %q (want passkey or securitykey)", s)
}

// ceremonyTimeout matches the 300 s lifetime of an in-flight login; the
// library enforces it from the state's expiry so a stale state is refused
// even if a caller forgets to drop it.
const ceremonyTimeout = 300 * time.Second

// RP is the relying party of one Gatehouse domain. It is stateless between
// calls (the ceremony state travels in the caller's []byte) and safe for
// concurrent use.
type RP struct {
	wa *webauthn.WebAuthn
}

// New makes a relying party. rpID is a domain (e.g. "localhost"), origins
// are full origins with scheme and port ("https://localhost:8443").
func New(rpID, rpName string, origins []string) (*RP, error) {
	if len(origins) == 0 {
		return nil, fmt.Errorf("webauthn relying party %q: no origins", rpID)
	}
	if rpName == "" {
		rpName = rpID
	}
	t := webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTimeout, TimeoutUVD: ceremonyTimeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: rpID, RPDisplayName: rpName, RPOrigins: origins,
		Timeouts: webauthn.TimeoutsConfig{Login: t, Registration: t},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn relying party %q: %w", rpID, err)
	}
	return &RP{wa: wa}, nil
}

// user adapts an account to go-webauthn's User.
type user struct {
	id, name, display string
	handle            []byte
	creds             []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.display }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// UserHandle is the WebAuthn user handle of an account: the 16 raw bytes of
// its uuid (stable across renames, reveals nothing).
func UserHandle(accountUUID string) ([]byte, error) {
	u, err := uuid.Parse(accountUUID)
	if err != nil {
		return nil, fmt.Errorf("account uuid %q: %w", accountUUID, err)
	}
	return u[:], nil
}

// stored is one enrolled credential decoded, next to its entry.
type stored struct {
	entry entry.WebAuthn
	cred  webauthn.Credential
}

func list(acct *entry.Entry, kind Kind) []entry.WebAuthn {
	if kind == SecurityKey {
		return acct.SecurityKeys
	}
	return acct.Passkeys
}

// decode parses stored credentials. One unreadable record is logged and
// left out rather than locking the account out of its other credentials.
func decode(acct *entry.Entry, ws []entry.WebAuthn) []stored {
	out := make([]stored, 0, len(ws))
	for _, w := range ws {
		var c webauthn.Credential
		if err := json.Unmarshal(w.Credential, &c); err != nil || len(c.ID) == 0 {
			slog.Warn("unreadable webauthn credential left out", "account", acct.UUID, "credential", w.ID, "err", err)
			continue
		}
		out = append(out, stored{entry: w, cred: c})
	}
	return out
}

func newUser(acct *entry.Entry, creds []stored) (*user, error) {
	h, err := UserHandle(acct.UUID)
	if err != nil {
		return nil, err
	}
	u := &user{id: acct.UUID, name: acct.Name, display: acct.DisplayName, handle: h}
	if u.display == "" {
		u.display = acct.Name
	}
	for _, c := range creds {
		u.creds = append(u.creds, c.cred)
	}
	return u, nil
}

func encode(options any, session *webauthn.SessionData) (json.RawMessage, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn options: %w", err)
	}
	s, err := json.Marshal(session)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn state: %w", err)
	}
	return o, s, nil
}

func decodeState(state []byte) (webauthn.SessionData, error) {
	var s webauthn.SessionData
	if err := json.Unmarshal(state, &s); err != nil || s.Challenge == "" {
		return s, ErrState
	}
	return s, nil
}

func uvRequirement(kind Kind) protocol.UserVerificationRequirement {
	if kind == SecurityKey {
		return protocol.VerificationDiscouraged
	}
	return protocol.VerificationRequired
}

// BeginRegistration starts enrolling a credential of kind for acct. Every
// credential the account already has (of either kind) is excluded, so the
// same authenticator is not enrolled twice. attestation asks for direct
// attestation, needed when the account policy has an attestation CA list.
func (r *RP) BeginRegistration(acct *entry.Entry, kind Kind, attestation bool) (json.RawMessage, []byte, error) {
	existing := decode(acct, append(append([]entry.WebAuthn(nil), acct.Passkeys...), acct.SecurityKeys...))
	u, err := newUser(acct, existing)
	if err != nil {
		return nil, nil, err
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(existing))
	for _, c := range existing {
		exclude = append(exclude, c.cred.Descriptor())
	}
	sel := protocol.AuthenticatorSelection{
		ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
		UserVerification: protocol.VerificationRequired,
	}
	if kind == SecurityKey {
		sel = protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementDiscouraged, RequireResidentKey: protocol.ResidentKeyNotRequired(),
			UserVerification: protocol.VerificationDiscouraged,
		}
	}
	conveyance := protocol.PreferNoAttestation
	if attestation {
		conveyance = protocol.PreferDirectAttestation
	}
	creation, session, err := r.wa.BeginRegistration(u, webauthn.WithExclusions(exclude),
		webauthn.WithAuthenticatorSelection(sel), webauthn.WithConveyancePreference(conveyance))
	if err != nil {
		return nil, nil, fmt.Errorf("begin %s registration: %w", kind, err)
	}
	return encode(creation, session)
}

// FinishRegistration verifies the authenticator's answer and returns the
// credential to store (id and label are the caller's). With cas non-nil
// the attestation must chain to one of the listed CAs with a listed AAGUID;
// the credential is then marked Attested, otherwise it is refused.
func (r *RP) FinishRegistration(acct *entry.Entry, kind Kind, state []byte, response json.RawMessage, label, id string, cas *entry.AttestationCAList, now time.Time) (entry.WebAuthn, error) {
	session, err := decodeState(state)
	if err != nil {
		return entry.WebAuthn{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return entry.WebAuthn{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if kind == Passkey && !parsed.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		return entry.WebAuthn{}, ErrUserNotVerified
	}
	existing := decode(acct, append(append([]entry.WebAuthn(nil), acct.Passkeys...), acct.SecurityKeys...))
	u, err := newUser(acct, existing)
	if err != nil {
		return entry.WebAuthn{}, err
	}
	cred, err := r.wa.CreateCredential(u, session, parsed)
	if err != nil {
		return entry.WebAuthn{}, classify(err)
	}
	for _, c := range existing {
		if bytes.Equal(c.cred.ID, cred.ID) {
			return entry.WebAuthn{}, ErrAlreadyRegistered
		}
	}
	attested := false
	if cas != nil {
		if err := checkAttestation(parsed, cas, now); err != nil {
			return entry.WebAuthn{}, err
		}
		attested = true
	}
	js, err := json.Marshal(cred)
	if err != nil {
		return entry.WebAuthn{}, fmt.Errorf("encode webauthn credential: %w", err)
	}
	return entry.WebAuthn{ID: id, Label: label, Credential: js, Attested: attested, Created: now.UnixMilli()}, nil
}

// BeginLogin starts a login of acct with one of its passkeys (user
// verification required) or security keys (discouraged).
func (r *RP) BeginLogin(acct *entry.Entry, kind Kind) (json.RawMessage, []byte, error) {
	creds := decode(acct, list(acct, kind))
	if len(creds) == 0 {
		return nil, nil, ErrNoCredentials
	}
	u, err := newUser(acct, creds)
	if err != nil {
		return nil, nil, err
	}
	assertion, session, err := r.wa.BeginLogin(u, webauthn.WithUserVerification(uvRequirement(kind)))
	if err != nil {
		return nil, nil, fmt.Errorf("begin %s login: %w", kind, err)
	}
	return encode(assertion, session)
}

// BeginDiscoverableLogin starts a usernameless passkey login: no
// allowCredentials, user verification required.
func (r *RP) BeginDiscoverableLogin() (json.RawMessage, []byte, error) {
	assertion, session, err := r.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, nil, fmt.Errorf("begin discoverable login: %w", err)
	}
	return encode(assertion, session)
}

// FinishLogin verifies an assertion for acct and returns the entry.WebAuthn
// ID of the credential used. The sign counter is not written back (see
// doc.go).
func (r *RP) FinishLogin(acct *entry.Entry, kind Kind, state []byte, response json.RawMessage) (string, error) {
	session, err := decodeState(state)
	if err != nil {
		return "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	creds := decode(acct, list(acct, kind))
	used, ok := find(creds, parsed.RawID)
	if !ok {
		return "", ErrUnknownCredential
	}
	if kind == Passkey && !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return "", ErrUserNotVerified
	}
	u, err := newUser(acct, creds)
	if err != nil {
		return "", err
	}
	if _, err := r.wa.ValidateLogin(u, session, parsed); err != nil {
		return "", classify(err)
	}
	return used.entry.ID, nil
}

// FinishDiscoverableLogin verifies a usernameless passkey assertion: the
// user handle (16 bytes, the account uuid) names the account, which
// byUserHandle looks up; the credential must be one of its passkeys.
func (r *RP) FinishDiscoverableLogin(state []byte, response json.RawMessage, byUserHandle func(userHandle []byte) (*entry.Entry, bool)) (*entry.Entry, string, error) {
	session, err := decodeState(state)
	if err != nil {
		return nil, "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	handle := parsed.Response.UserHandle
	if len(handle) != 16 {
		return nil, "", fmt.Errorf("%w: the credential names no account (user handle of %d bytes)", ErrUnknownCredential, len(handle))
	}
	acct, ok := byUserHandle(bytes.Clone(handle))
	if !ok || acct == nil {
		return nil, "", ErrUnknownCredential
	}
	creds := decode(acct, acct.Passkeys)
	used, ok := find(creds, parsed.RawID)
	if !ok {
		return nil, "", ErrUnknownCredential
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return nil, "", ErrUserNotVerified
	}
	u, err := newUser(acct, creds)
	if err != nil {
		return nil, "", err
	}
	if !bytes.Equal(u.handle, handle) {
		return nil, "", fmt.Errorf("%w: the user handle does not match the account found for it", ErrUnknownCredential)
	}
	byHandle := func(_, _ []byte) (webauthn.User, error) { return u, nil }
	if _, _, err := r.wa.ValidatePasskeyLogin(byHandle, session, parsed); err != nil {
		return nil, "", classify(err)
	}
	return acct, used.entry.ID, nil
}

func find(creds []stored, rawID []byte) (stored, bool) {
	for _, c := range creds {
		if bytes.Equal(c.cred.ID, rawID) {
			return c, true
		}
	}
	return stored{}, false
}
