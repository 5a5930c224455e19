package samlsp

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// plainLogin sets up an IdP sending plain signed assertions and does one
// login; most refusal tests start from its response.
func plainLogin(t testing.TB, edit func(*Config)) (*testIdP, *SP, postedForm, string) {
	t.Helper()
	testKeys(t)
	ti := newTestIdP(t, nil)
	c := ti.config()
	if edit != nil {
		edit(&c)
	}
	sp := mustSP(t, c)
	ti.setSP(t, sp, plainOnly)
	f, reqID := ti.login(t, sp)
	return ti, sp, f, reqID
}

func TestUnsignedRefused(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	doc := parseDoc(t, f.SAMLResponse)
	stripSig(t, doc.Root())
	stripSig(t, child(doc.Root(), "Assertion"))
	unsigned := encodeDoc(t, doc)

	_, _, err := sp.ParseResponse(unsigned, reqID, time.Now())
	refused(t, err, ErrNotSigned, "assertion not signed")

	// The admin's opt-out accepts it.
	c := sp.cfg
	c.AllowUnsignedAssertions = true
	if id, _, err := mustSP(t, c).ParseResponse(unsigned, reqID, time.Now()); err != nil || id.Subject != "alice-0001" {
		t.Fatalf("unsigned with AllowUnsignedAssertions: %+v, %v", id, err)
	}
	// ... but a signature that is present is still checked.
	_, _, err = mustSP(t, c).ParseResponse(tamper(t, f.SAMLResponse), reqID, time.Now())
	refused(t, err, ErrSignature, "signature invalid")
}

// tamper changes the user's address inside a signed response.
func tamper(t *testing.T, b64 string) string {
	raw := decodeXML(t, b64)
	if !strings.Contains(raw, "alice@example.com") {
		t.Fatal("no address to tamper with")
	}
	return encodeB64(strings.ReplaceAll(raw, "alice@example.com", "mallory@example.com"))
}

func TestTamperedAttributeRefused(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	_, _, err := sp.ParseResponse(tamper(t, f.SAMLResponse), reqID, time.Now())
	refused(t, err, ErrSignature, "signature invalid")

	// Without the Response signature the assertion's own one catches it.
	doc := parseDoc(t, tamper(t, f.SAMLResponse))
	stripSig(t, doc.Root())
	_, _, err = sp.ParseResponse(encodeDoc(t, doc), reqID, time.Now())
	refused(t, err, ErrSignature, "signature invalid")
}

func TestSignedResponseOrSignedAssertionSuffices(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)

	// Assertion signature only.
	doc := parseDoc(t, f.SAMLResponse)
	stripSig(t, doc.Root())
	if _, _, err := sp.ParseResponse(encodeDoc(t, doc), reqID, time.Now()); err != nil {
		t.Fatalf("signed assertion in an unsigned response: %v", err)
	}

	// Response signature only: strip both and let the IdP key sign the
	// Response again, as IdPs configured to sign only the response do.
	doc = parseDoc(t, f.SAMLResponse)
	stripSig(t, doc.Root())
	stripSig(t, child(doc.Root(), "Assertion"))
	signer := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{idpCert.Raw}, PrivateKey: idpKey}))
	signed, err := signer.SignEnveloped(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	doc.SetRoot(signed)
	if id, _, err := sp.ParseResponse(encodeDoc(t, doc), reqID, time.Now()); err != nil || id.Subject != "alice-0001" {
		t.Fatalf("unsigned assertion in a signed response: %+v %v", id, err)
	}
}

func TestExpiredAndNotYetValidRefused(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	_, _, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now().Add(10*time.Minute))
	refused(t, err, ErrExpired, "assertion expired")
	// Just past the bearer confirmation's end (no skew on NotOnOrAfter).
	_, a, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = sp.ParseResponse(f.SAMLResponse, reqID, a.NotOnOrAfter)
	refused(t, err, ErrExpired, "assertion expired")

	_, _, err = sp.ParseResponse(f.SAMLResponse, reqID, time.Now().Add(-10*time.Minute))
	refused(t, err, ErrNotYetValid, "assertion not yet valid")
}

func TestWrongAudienceRefused(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	sp := mustSP(t, ti.config())
	// The IdP has our endpoints under another entity id: its assertion names
	// that one as the audience.
	ti.setSP(t, sp, func(ed *saml.EntityDescriptor) {
		plainOnly(ed)
		ed.EntityID = "https://some-other-sp.test/metadata"
	})
	f, reqID := ti.login(t, sp)
	_, _, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now())
	refused(t, err, ErrAudience, "wrong audience")
}

func TestWrongRecipientRefused(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	c := sp.cfg
	c.ACSURL = "https://other.gatehouse.test/sso/saml/acs"
	other := mustSP(t, c)
	// The Response's Destination is the first check.
	_, _, err := other.ParseResponse(f.SAMLResponse, reqID, time.Now())
	refused(t, err, ErrRecipient, "wrong recipient")
	if !strings.Contains(err.Error(), "Destination") {
		t.Fatalf("%v does not name the Destination", err)
	}
	// Without Destination (optional; the response signature goes with it),
	// the assertion's Recipient still names the other ACS.
	doc := parseDoc(t, f.SAMLResponse)
	stripSig(t, doc.Root())
	doc.Root().RemoveAttr("Destination")
	_, _, err = other.ParseResponse(encodeDoc(t, doc), reqID, time.Now())
	refused(t, err, ErrRecipient, "wrong recipient")
	if !strings.Contains(err.Error(), "Recipient") {
		t.Fatalf("%v does not name the Recipient", err)
	}
}

func TestInResponseToChecked(t *testing.T) {
	ti, sp, f, reqID := plainLogin(t, nil)
	_, _, err := sp.ParseResponse(f.SAMLResponse, "_another-request", time.Now())
	refused(t, err, ErrUnsolicited, "unsolicited response (InResponseTo")
	if !strings.Contains(err.Error(), reqID) {
		t.Fatalf("%v does not name what the response answers", err)
	}

	// IdP-initiated: no InResponseTo at all.
	unsolicited := ti.follow(t, ti.srv.URL+"/idp-initiated")
	if strings.Contains(decodeXML(t, unsolicited.SAMLResponse), "InResponseTo=") {
		t.Fatal("IdP-initiated response has an InResponseTo")
	}
	_, _, err = sp.ParseResponse(unsolicited.SAMLResponse, reqID, time.Now())
	refused(t, err, ErrUnsolicited, "unsolicited response (InResponseTo missing")
	_, _, err = sp.ParseResponse(unsolicited.SAMLResponse, "", time.Now())
	refused(t, err, ErrUnsolicited, "unsolicited response (InResponseTo")
}

func TestWrongIssuerRefused(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	c := sp.cfg
	c.IdPEntityID = "https://idp.elsewhere.test/metadata"
	_, _, err := mustSP(t, c).ParseResponse(f.SAMLResponse, reqID, time.Now())
	refused(t, err, ErrIssuer, "wrong issuer")
}

func TestOtherIdPKeyRefused(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	c := sp.cfg
	c.IdPCert = otherCertPEM // a certificate that did not sign this
	_, _, err := mustSP(t, c).ParseResponse(f.SAMLResponse, reqID, time.Now())
	refused(t, err, ErrSignature, "signature invalid")
}

func TestMFAFromAuthnContext(t *testing.T) {
	for _, tc := range []struct {
		class string
		mfa   bool
	}{
		{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", false},
		{"https://refeds.org/profile/mfa", true},
		{"urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken", true},
		{"urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI", true},
		// One factor each (a key, a card): not MFA.
		{"urn:oasis:names:tc:SAML:2.0:ac:classes:X509", false},
		{"urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard", false},
		{"urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract", true},
	} {
		t.Run(tc.class[strings.LastIndexAny(tc.class, ":/")+1:], func(t *testing.T) {
			testKeys(t)
			ti := newTestIdP(t, nil)
			sp := mustSP(t, ti.config())
			ti.setSP(t, sp, plainOnly)
			ti.tweak = func(a *saml.Assertion) {
				a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value = tc.class
			}
			f, reqID := ti.login(t, sp)
			id, _, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now())
			if err != nil || id.MFA != tc.mfa {
				t.Fatalf("MFA %v (err %v), want %v", id.MFA, err, tc.mfa)
			}
		})
	}
}

func TestEmailFromNameIDAndDisplayNameAttribute(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	sp := mustSP(t, ti.config())
	ti.setSP(t, sp, plainOnly)
	ti.session.NameID = "Bob@Example.com"
	ti.session.NameIDFormat = nameIDFormatEmail
	ti.session.UserEmail = ""
	ti.session.UserCommonName = "cn value"
	ti.session.CustomAttributes = []saml.Attribute{{
		Name: "displayName", Values: []saml.AttributeValue{{Type: "xs:string", Value: "Bob Builder"}},
	}}
	f, reqID := ti.login(t, sp)
	id, _, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "Bob@Example.com" || id.Email != "Bob@Example.com" || id.DisplayName != "Bob Builder" {
		t.Fatalf("identity %+v", id)
	}
}

func TestIdPRefusalStatus(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	doc := parseDoc(t, f.SAMLResponse)
	stripSig(t, doc.Root())
	sc := child(child(doc.Root(), "Status"), "StatusCode")
	sc.CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
	_, _, err := sp.ParseResponse(encodeDoc(t, doc), reqID, time.Now())
	refused(t, err, ErrStatus, "status:Responder")
}
