package samlsp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// refused asserts that err wraps want and that its text names the reason.
func refused(t *testing.T, err error, want error, words string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want refusal %q", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %q does not wrap %q", err, want)
	}
	if !strings.Contains(err.Error(), words) {
		t.Fatalf("error %q does not say %q", err, words)
	}
	t.Logf("refused: %v", err)
}

func TestSignedAssertionAccepted(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	sp := mustSP(t, ti.config())
	ti.setSP(t, sp, plainOnly)

	start := time.Now()
	f, reqID := ti.login(t, sp)
	if strings.Contains(decodeXML(t, f.SAMLResponse), "EncryptedAssertion") {
		t.Fatal("IdP encrypted although our metadata it holds has no encryption key")
	}
	id, a, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now())
	if err != nil {
		t.Fatalf("ParseResponse: %v", err)
	}
	if id.Subject != "alice-0001" || id.Email != "alice@example.com" || !id.EmailVerified ||
		id.DisplayName != "Alice Liddell" || id.MFA {
		t.Fatalf("identity %+v", id)
	}
	if id.Claims["uid"] != "alice" || id.Claims["mail"] != "alice@example.com" {
		t.Fatalf("claims %v", id.Claims)
	}
	if g, ok := id.Claims["eduPersonAffiliation"].([]string); !ok || len(g) != 2 || g[0] != "staff" {
		t.Fatalf("multi-valued claim %#v", id.Claims["eduPersonAffiliation"])
	}
	// The replay cache's key and lifetime.
	if !strings.HasPrefix(a.ID, "id-") || !strings.Contains(decodeXML(t, f.SAMLResponse), `ID="`+a.ID+`"`) {
		t.Fatalf("assertion id %q not the assertion's", a.ID)
	}
	if d := a.NotOnOrAfter.Sub(start); d < saml.MaxIssueDelay-5*time.Second || d > saml.MaxIssueDelay+5*time.Second {
		t.Fatalf("NotOnOrAfter %v is %v after the login began, want about %v", a.NotOnOrAfter, d, saml.MaxIssueDelay)
	}
	// The same response again is not ParseResponse's to refuse (the caller's
	// replay cache does), but it yields the same id for that cache.
	_, a2, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now())
	if err != nil || a2.ID != a.ID {
		t.Fatalf("second parse: %v, id %q vs %q", err, a2.ID, a.ID)
	}
}

func TestEncryptedAssertionAccepted(t *testing.T) {
	testKeys(t)
	c := Config{}
	ti := newTestIdP(t, nil)
	c = ti.config()
	c.RequireEncryptedAssertions = true
	sp := mustSP(t, c)
	ti.setSP(t, sp, nil) // our metadata as is: it has an encryption key

	f, reqID := ti.login(t, sp)
	raw := decodeXML(t, f.SAMLResponse)
	if !strings.Contains(raw, "EncryptedAssertion") || strings.Contains(raw, "alice@example.com") {
		t.Fatal("IdP did not encrypt the assertion")
	}
	id, a, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now())
	if err != nil {
		t.Fatalf("ParseResponse: %v", err)
	}
	if id.Subject != "alice-0001" || id.Email != "alice@example.com" || a.ID == "" {
		t.Fatalf("identity %+v assertion %+v", id, a)
	}

	// The same response for an SP holding another key: the seed's words.
	c2 := c
	c2.SPKeyPEM, c2.SPCertPEM = otherKeyPEM, otherCertPEM
	_, _, err = mustSP(t, c2).ParseResponse(f.SAMLResponse, reqID, time.Now())
	refused(t, err, ErrDecrypt, "Failed to decrypt assertion")
}

func TestPlainRefusedWhenEncryptionRequired(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	c := ti.config()
	c.RequireEncryptedAssertions = true
	sp := mustSP(t, c)
	ti.setSP(t, sp, plainOnly)
	f, reqID := ti.login(t, sp)
	_, _, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now())
	refused(t, err, ErrNotEncrypted, "assertion not encrypted")
}
