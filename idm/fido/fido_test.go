package fido

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
)

const (
	testRPID   = "localhost"
	testOrigin = "https://localhost:8443"
)

func newRP(t testing.TB) *RP {
	t.Helper()
	rp, err := New(testRPID, "Gatehouse", []string{testOrigin})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func newAccount(name string) *entry.Entry {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return &entry.Entry{
		UUID:  fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]),
		Class: entry.Person, Name: name,
	}
}

// enrol runs a registration ceremony and, on success, adds the credential
// to the account as the credential-update session would.
func enrol(t testing.TB, rp *RP, acct *entry.Entry, kind Kind, a *fidotest.Authenticator, uv, attestation bool, cas *entry.AttestationCAList) (entry.WebAuthn, error) {
	t.Helper()
	opts, state, err := rp.BeginRegistration(acct, kind, attestation)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Register(opts, uv)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("cred-%d", len(acct.Passkeys)+len(acct.SecurityKeys))
	w, err := rp.FinishRegistration(acct, kind, state, resp, "key "+id, id, cas, time.Now())
	if err != nil {
		return w, err
	}
	if kind == Passkey {
		acct.Passkeys = append(acct.Passkeys, w)
	} else {
		acct.SecurityKeys = append(acct.SecurityKeys, w)
	}
	return w, nil
}

func mustEnrol(t testing.TB, rp *RP, acct *entry.Entry, kind Kind, a *fidotest.Authenticator, uv bool) entry.WebAuthn {
	t.Helper()
	w, err := enrol(t, rp, acct, kind, a, uv, false, nil)
	if err != nil {
		t.Fatalf("enrol %s: %v", kind, err)
	}
	return w
}

func login(t testing.TB, rp *RP, acct *entry.Entry, kind Kind, a *fidotest.Authenticator, uv bool) (string, error) {
	t.Helper()
	opts, state, err := rp.BeginLogin(acct, kind)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Login(opts, uv)
	if err != nil {
		t.Fatal(err)
	}
	return rp.FinishLogin(acct, kind, state, resp)
}

func wantErr(t *testing.T, err, reason error) {
	t.Helper()
	if !errors.Is(err, reason) {
		t.Fatalf("got error %v, want %v", err, reason)
	}
	t.Logf("refused: %v", err)
}

// options decodes the parts of the options JSON the tests look at.
type options struct {
	PublicKey struct {
		User struct {
			ID, Name, DisplayName string
		} `json:"user"`
		Selection struct {
			ResidentKey        string `json:"residentKey"`
			RequireResidentKey bool   `json:"requireResidentKey"`
			UserVerification   string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		Attestation      string                `json:"attestation"`
		UserVerification string                `json:"userVerification"`
		Exclude          []struct{ ID string } `json:"excludeCredentials"`
		Allow            []struct{ ID string } `json:"allowCredentials"`
	} `json:"publicKey"`
}

func decodeOptions(t *testing.T, raw json.RawMessage) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestPasskeyEnrolAndLogin(t *testing.T) {
	rp, acct := newRP(t), newAccount("alice")
	acct.DisplayName = "Alice Liddell"
	opts, _, err := rp.BeginRegistration(acct, Passkey, false)
	if err != nil {
		t.Fatal(err)
	}
	o := decodeOptions(t, opts)
	handle, _ := UserHandle(acct.UUID)
	if o.PublicKey.User.ID != base64.RawURLEncoding.EncodeToString(handle) || o.PublicKey.User.Name != "alice" || o.PublicKey.User.DisplayName != "Alice Liddell" {
		t.Fatalf("user entity = %+v", o.PublicKey.User)
	}
	if s := o.PublicKey.Selection; s.ResidentKey != "required" || !s.RequireResidentKey || s.UserVerification != "required" {
		t.Fatalf("a passkey needs a resident key and user verification: %+v", s)
	}
	if o.PublicKey.Attestation != "none" {
		t.Fatalf("attestation = %q without a CA list", o.PublicKey.Attestation)
	}

	a := fidotest.New(testOrigin)
	w := mustEnrol(t, rp, acct, Passkey, a, true)
	if w.ID != "cred-0" || w.Label != "key cred-0" || w.Attested || w.Created == 0 || len(w.Credential) == 0 {
		t.Fatalf("enrolled %+v", w)
	}
	opts, _, err = rp.BeginLogin(acct, Passkey)
	if err != nil {
		t.Fatal(err)
	}
	if o := decodeOptions(t, opts); o.PublicKey.UserVerification != "required" || len(o.PublicKey.Allow) != 1 {
		t.Fatalf("passkey login options: %s", opts)
	}
	for range 3 { // counters advance but are not written back: logins keep working
		id, err := login(t, rp, acct, Passkey, a, true)
		if err != nil || id != w.ID {
			t.Fatalf("login = %q, %v", id, err)
		}
	}

	// Enrolling the same authenticator again: the options exclude it.
	if _, err := a.Register(mustBegin(t, rp, acct, Passkey), true); !errors.Is(err, fidotest.ErrExcluded) {
		t.Fatalf("re-enrolment not excluded: %v", err)
	}
}

func mustBegin(t *testing.T, rp *RP, acct *entry.Entry, kind Kind) json.RawMessage {
	t.Helper()
	opts, _, err := rp.BeginRegistration(acct, kind, false)
	if err != nil {
		t.Fatal(err)
	}
	if o := decodeOptions(t, opts); len(o.PublicKey.Exclude) != len(acct.Passkeys)+len(acct.SecurityKeys) {
		t.Fatalf("excludeCredentials lists %d, the account has %d", len(o.PublicKey.Exclude), len(acct.Passkeys)+len(acct.SecurityKeys))
	}
	return opts
}

func TestSecurityKeyWithoutUserVerification(t *testing.T) {
	rp, acct := newRP(t), newAccount("bob")
	opts, _, err := rp.BeginRegistration(acct, SecurityKey, false)
	if err != nil {
		t.Fatal(err)
	}
	if s := decodeOptions(t, opts).PublicKey.Selection; s.ResidentKey != "discouraged" || s.RequireResidentKey || s.UserVerification != "discouraged" {
		t.Fatalf("security key selection = %+v", s)
	}
	a := fidotest.New(testOrigin)
	w := mustEnrol(t, rp, acct, SecurityKey, a, false)
	opts, _, err = rp.BeginLogin(acct, SecurityKey)
	if err != nil {
		t.Fatal(err)
	}
	if uv := decodeOptions(t, opts).PublicKey.UserVerification; uv != "discouraged" {
		t.Fatalf("security key login asks userVerification %q", uv)
	}
	if id, err := login(t, rp, acct, SecurityKey, a, false); err != nil || id != w.ID {
		t.Fatalf("login = %q, %v", id, err)
	}
	// A security key is no passkey: no passkey login for this account.
	if _, _, err := rp.BeginLogin(acct, Passkey); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("passkey login of an account with only a security key: %v", err)
	}
}

func TestPasskeyWithoutUserVerificationRefused(t *testing.T) {
	rp, acct := newRP(t), newAccount("carol")
	a := fidotest.New(testOrigin)
	_, err := enrol(t, rp, acct, Passkey, a, false, false, nil)
	wantErr(t, err, ErrUserNotVerified)

	mustEnrol(t, rp, acct, Passkey, fidotest.New(testOrigin), true)
	b := fidotest.New(testOrigin)
	acctB := newAccount("carol2")
	mustEnrol(t, rp, acctB, Passkey, b, true)
	_, err = login(t, rp, acctB, Passkey, b, false)
	wantErr(t, err, ErrUserNotVerified)
}

func TestWrongOriginRefused(t *testing.T) {
	rp, acct := newRP(t), newAccount("dave")
	phished := fidotest.New("https://gatehouse.example.net")
	_, err := enrol(t, rp, acct, Passkey, phished, true, false, nil)
	wantErr(t, err, ErrWrongOrigin)

	a := fidotest.New(testOrigin)
	mustEnrol(t, rp, acct, Passkey, a, true)
	_, err = login(t, rp, acct, Passkey, a.ForOrigin("https://localhost:9443"), true)
	wantErr(t, err, ErrWrongOrigin)
}

// tamper rewrites one base64url field of the response.
func tamper(t *testing.T, resp json.RawMessage, field string, change func([]byte)) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatal(err)
	}
	r := m["response"].(map[string]any)
	b, err := base64.RawURLEncoding.DecodeString(r[field].(string))
	if err != nil {
		t.Fatal(err)
	}
	change(b)
	r[field] = base64.RawURLEncoding.EncodeToString(b)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTamperedAssertionRefused(t *testing.T) {
	rp, acct := newRP(t), newAccount("erin")
	a := fidotest.New(testOrigin)
	mustEnrol(t, rp, acct, Passkey, a, true)

	for _, c := range []struct {
		field  string
		change func([]byte)
	}{
		{"signature", func(b []byte) { b[len(b)-1] ^= 1 }},
		{"authenticatorData", func(b []byte) { b[len(b)-1] ^= 1 }}, // the counter: covered by the signature
	} {
		opts, state, err := rp.BeginLogin(acct, Passkey)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.Login(opts, true)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rp.FinishLogin(acct, Passkey, state, tamper(t, resp, c.field, c.change))
		wantErr(t, err, ErrBadSignature)
	}
}

func TestWrongStateOrCredentialRefused(t *testing.T) {
	rp, acct := newRP(t), newAccount("frank")
	a := fidotest.New(testOrigin)
	mustEnrol(t, rp, acct, Passkey, a, true)

	// An answer to one challenge does not finish another ceremony.
	opts, _, err := rp.BeginLogin(acct, Passkey)
	if err != nil {
		t.Fatal(err)
	}
	_, otherState, err := rp.BeginLogin(acct, Passkey)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Login(opts, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rp.FinishLogin(acct, Passkey, otherState, resp)
	wantErr(t, err, ErrChallenge)

	// An expired state is refused.
	_, state, err := rp.BeginLogin(acct, Passkey)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	_ = json.Unmarshal(state, &s)
	s["expires"] = time.Now().Add(-time.Second).Format(time.RFC3339Nano)
	expired, _ := json.Marshal(s)
	_, err = rp.FinishLogin(acct, Passkey, expired, resp)
	wantErr(t, err, ErrState)
	_, err = rp.FinishLogin(acct, Passkey, []byte("garbage"), resp)
	wantErr(t, err, ErrState)

	// Another account's credential is unknown here.
	other, b := newAccount("grace"), fidotest.New(testOrigin)
	mustEnrol(t, rp, other, Passkey, b, true)
	opts, state, err = rp.BeginLogin(acct, Passkey)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = b.Login(json.RawMessage(fmt.Sprintf(`{"publicKey":{"challenge":%q,"rpId":"localhost"}}`, decodeChallenge(t, opts))), true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rp.FinishLogin(acct, Passkey, state, resp)
	wantErr(t, err, ErrUnknownCredential)

	// Garbage is malformed, not a panic.
	_, err = rp.FinishLogin(acct, Passkey, state, json.RawMessage(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`))
	wantErr(t, err, ErrMalformed)
}

func decodeChallenge(t *testing.T, opts json.RawMessage) string {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	return o.PublicKey.Challenge
}

func TestDiscoverableLoginNamesTheAccount(t *testing.T) {
	rp := newRP(t)
	accounts := map[string]*entry.Entry{}
	byHandle := func(h []byte) (*entry.Entry, bool) {
		for _, a := range accounts {
			if want, _ := UserHandle(a.UUID); string(want) == string(h) {
				return a, true
			}
		}
		return nil, false
	}
	alice, bob := newAccount("alice"), newAccount("bob")
	accounts["alice"], accounts["bob"] = alice, bob
	ka, kb := fidotest.New(testOrigin), fidotest.New(testOrigin)
	mustEnrol(t, rp, alice, Passkey, ka, true)
	wb := mustEnrol(t, rp, bob, Passkey, kb, true)

	opts, state, err := rp.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	if o := decodeOptions(t, opts); len(o.PublicKey.Allow) != 0 || o.PublicKey.UserVerification != "required" {
		t.Fatalf("discoverable options: %s", opts)
	}
	resp, err := kb.Login(opts, true)
	if err != nil {
		t.Fatal(err)
	}
	acct, id, err := rp.FinishDiscoverableLogin(state, resp, byHandle)
	if err != nil || acct != bob || id != wb.ID {
		t.Fatalf("discoverable login = %v, %q, %v; want bob", acct, id, err)
	}

	// Without user verification: refused.
	opts, state, _ = rp.BeginDiscoverableLogin()
	resp, _ = kb.Login(opts, false)
	_, _, err = rp.FinishDiscoverableLogin(state, resp, byHandle)
	wantErr(t, err, ErrUserNotVerified)

	// An account that no longer exists (or was never here): unknown.
	delete(accounts, "bob")
	opts, state, _ = rp.BeginDiscoverableLogin()
	resp, _ = kb.Login(opts, true)
	_, _, err = rp.FinishDiscoverableLogin(state, resp, byHandle)
	wantErr(t, err, ErrUnknownCredential)
}

func TestAttestationAgainstPolicyCAs(t *testing.T) {
	ca, err := fidotest.NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := fidotest.NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	rp := newRP(t)
	trusted := &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{"corp": ca.Entry()}}

	t.Run("accepted and marked attested", func(t *testing.T) {
		acct := newAccount("henry")
		opts, _, err := rp.BeginRegistration(acct, Passkey, true)
		if err != nil {
			t.Fatal(err)
		}
		if att := decodeOptions(t, opts).PublicKey.Attestation; att != "direct" {
			t.Fatalf("attestation = %q, want direct", att)
		}
		a := fidotest.New(testOrigin, fidotest.WithAttestation(ca))
		w, err := enrol(t, rp, acct, Passkey, a, true, true, trusted)
		if err != nil || !w.Attested {
			t.Fatalf("attested enrolment = %+v, %v", w, err)
		}
		if id, err := login(t, rp, acct, Passkey, a, true); err != nil || id != w.ID {
			t.Fatalf("login with the attested passkey = %q, %v", id, err)
		}
		// Any AAGUID is fine when the CA lists none.
		anyModel := &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{"corp": {CA: ca.DER()}}}
		if w, err := enrol(t, rp, newAccount("henry2"), Passkey, fidotest.New(testOrigin, fidotest.WithAttestation(ca)), true, true, anyModel); err != nil || !w.Attested {
			t.Fatalf("CA without AAGUIDs: %+v, %v", w, err)
		}
	})
	t.Run("another CA refused", func(t *testing.T) {
		a := fidotest.New(testOrigin, fidotest.WithAttestation(other))
		_, err := enrol(t, rp, newAccount("ivy"), Passkey, a, true, true, trusted)
		wantErr(t, err, ErrNotTrusted)
		if err.Error() == ErrNotTrusted.Error() || len(err.Error()) < len(ErrNotTrusted.Error()) {
			t.Fatalf("no detail in %q", err)
		}
	})
	t.Run("unlisted model refused", func(t *testing.T) {
		wrongModel := &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{
			"corp": {CA: ca.DER(), AAGUIDs: map[string]string{other.AAGUID(): "another model"}},
		}}
		_, err := enrol(t, rp, newAccount("jack"), Passkey, fidotest.New(testOrigin, fidotest.WithAttestation(ca)), true, true, wrongModel)
		wantErr(t, err, ErrNotTrusted)
	})
	t.Run("no attestation refused", func(t *testing.T) {
		_, err := enrol(t, rp, newAccount("kate"), Passkey, fidotest.New(testOrigin), true, true, trusted)
		wantErr(t, err, ErrNotTrusted)
	})
	t.Run("forged attestation signature refused", func(t *testing.T) {
		acct := newAccount("liam")
		opts, state, err := rp.BeginRegistration(acct, Passkey, true)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := fidotest.New(testOrigin, fidotest.WithAttestation(ca)).Register(opts, true)
		if err != nil {
			t.Fatal(err)
		}
		// Flip a byte of the client data: the attestation signature covers its hash.
		var m map[string]any
		_ = json.Unmarshal(resp, &m)
		r := m["response"].(map[string]any)
		cd, _ := base64.RawURLEncoding.DecodeString(r["clientDataJSON"].(string))
		cd = append(cd[:len(cd)-1], ' ', '}')
		r["clientDataJSON"] = base64.RawURLEncoding.EncodeToString(cd)
		forged, _ := json.Marshal(m)
		_, err = rp.FinishRegistration(acct, Passkey, state, forged, "x", "x", trusted, time.Now())
		wantErr(t, err, ErrBadAttestation)
	})
}

// TestConcurrentLogins: one RP and one authenticator serve many logins at
// once, as the integration tests do.
func TestConcurrentLogins(t *testing.T) {
	rp, acct := newRP(t), newAccount("mia")
	a := fidotest.New(testOrigin)
	w := mustEnrol(t, rp, acct, Passkey, a, true)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			opts, state, err := rp.BeginLogin(acct, Passkey)
			if err == nil {
				var resp json.RawMessage
				if resp, err = a.Login(opts, true); err == nil {
					var id string
					if id, err = rp.FinishLogin(acct, Passkey, state, resp); err == nil && id != w.ID {
						err = fmt.Errorf("credential %q", id)
					}
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New("https://localhost:8443", "x", []string{testOrigin}); err == nil {
		t.Fatal("an origin as RP ID was accepted")
	}
	if _, err := New("localhost", "x", nil); err == nil {
		t.Fatal("no origins accepted")
	}
	if k, err := ParseKind("securitykey"); err != nil || k != SecurityKey || k.String() != "securitykey" {
		t.Fatal("ParseKind(securitykey)")
	}
	if _, err := ParseKind("yubikey"); err == nil {
		t.Fatal("unknown kind accepted")
	}
}
