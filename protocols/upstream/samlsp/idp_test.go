package samlsp

// The test IdP: crewjam/saml's IdentityProvider (an implementation
// independent of gosaml2 and of this package) served over TLS on 127.0.0.1,
// with our SP metadata fed to it as its service provider.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/logger"
)

const (
	testSPEntity = "https://gatehouse.test/sso/saml/metadata"
	testACS      = "https://gatehouse.test/sso/saml/acs"
)

// keys are made once per test binary: RSA generation is slow on a shared
// two-core machine.
var (
	keysOnce                  sync.Once
	spKeyPEM, spCertPEM       string // our SP pair (2048, to keep tests fast)
	otherKeyPEM, otherCertPEM string // a second SP pair (mismatch, wrong decryption key)
	idpKey                    *rsa.PrivateKey
	idpCert                   *x509.Certificate
	idpCertPEM                string
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		now := time.Now()
		if spKeyPEM, spCertPEM, err = GenerateSPKey(testSPEntity, 2048, now); err != nil {
			panic(err)
		}
		if otherKeyPEM, otherCertPEM, err = GenerateSPKey(testSPEntity, 2048, now); err != nil {
			panic(err)
		}
		// The IdP's own pair, made with the standard library only.
		idpKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(7),
			Subject:      pkix.Name{CommonName: "test IdP"},
			NotBefore:    now.Add(-24 * time.Hour),
			NotAfter:     now.Add(365 * 24 * time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &idpKey.PublicKey, idpKey)
		if err != nil {
			panic(err)
		}
		idpCert, _ = x509.ParseCertificate(der)
		idpCertPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	})
}

// testIdP is one crewjam IdP on an httptest TLS server.
type testIdP struct {
	t   *testing.T
	srv *httptest.Server
	idp *saml.IdentityProvider

	mu sync.Mutex
	// spMeta is what the IdP knows of our SP (our metadata, parsed by crewjam).
	spMeta *saml.EntityDescriptor
	// session is the logged-in user the IdP vouches for.
	session saml.Session
	// tweak edits the assertion before crewjam signs it.
	tweak func(*saml.Assertion)
}

func newTestIdP(t testing.TB, sp *SP) *testIdP {
	// sp may be nil: the caller then feeds the metadata with setSP once it has
	// the IdP URLs for its Config.
	t.Helper()
	testKeys(t)
	ti := &testIdP{session: saml.Session{
		ID: "sess-1", CreateTime: time.Now(), ExpireTime: time.Now().Add(time.Hour), Index: "1",
		NameID:         "alice-0001",
		NameIDFormat:   "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
		UserName:       "alice",
		UserEmail:      "alice@example.com",
		UserCommonName: "Alice Liddell",
		Groups:         []string{"staff", "admins"},
	}}
	mux := http.NewServeMux()
	ti.srv = httptest.NewUnstartedServer(mux)
	ti.srv.StartTLS()
	t.Cleanup(ti.srv.Close)

	base, _ := url.Parse(ti.srv.URL)
	ti.idp = &saml.IdentityProvider{
		Key:                     idpKey,
		Certificate:             idpCert,
		Logger:                  logger.DefaultLogger,
		MetadataURL:             *base.JoinPath("/metadata"),
		SSOURL:                  *base.JoinPath("/sso"),
		ServiceProviderProvider: ti,
		SessionProvider:         ti,
		AssertionMaker:          ti,
	}
	mux.Handle("/metadata", http.HandlerFunc(ti.idp.ServeMetadata))
	mux.Handle("/sso", http.HandlerFunc(ti.idp.ServeSSO))
	mux.HandleFunc("/idp-initiated", func(w http.ResponseWriter, r *http.Request) {
		ti.idp.ServeIDPInitiated(w, r, testSPEntity, "idp-relay")
	})
	if sp != nil {
		ti.setSP(t, sp, nil)
	}
	return ti
}

// setSP feeds our SP's metadata to the IdP; edit may change it first (a
// different entity id, no encryption key).
func (ti *testIdP) setSP(t testing.TB, sp *SP, edit func(*saml.EntityDescriptor)) {
	t.Helper()
	md, err := sp.Metadata()
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatalf("crewjam cannot read our metadata: %v\n%s", err, md)
	}
	if edit != nil {
		edit(&ed)
	}
	ti.mu.Lock()
	ti.spMeta = &ed
	ti.mu.Unlock()
}

// plainOnly removes the encryption KeyDescriptor so crewjam sends a plain
// (signed) assertion.
func plainOnly(ed *saml.EntityDescriptor) {
	for i := range ed.SPSSODescriptors {
		var kds []saml.KeyDescriptor
		for _, kd := range ed.SPSSODescriptors[i].KeyDescriptors {
			if kd.Use != "encryption" {
				kds = append(kds, kd)
			}
		}
		ed.SPSSODescriptors[i].KeyDescriptors = kds
	}
}

func (ti *testIdP) GetServiceProvider(*http.Request, string) (*saml.EntityDescriptor, error) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.spMeta, nil
}

func (ti *testIdP) GetSession(http.ResponseWriter, *http.Request, *saml.IdpAuthnRequest) *saml.Session {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	s := ti.session
	return &s
}

func (ti *testIdP) MakeAssertion(req *saml.IdpAuthnRequest, s *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, s); err != nil {
		return err
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if ti.tweak != nil {
		ti.tweak(req.Assertion)
	}
	return nil
}

// config is an SP configuration that trusts this IdP.
func (ti *testIdP) config() Config {
	return Config{
		SPEntityID:  testSPEntity,
		ACSURL:      testACS,
		MetadataURL: testSPEntity,
		IdPEntityID: ti.idp.MetadataURL.String(),
		IdPSSOURL:   ti.idp.SSOURL.String(),
		IdPCert:     idpCertPEM,
		SPKeyPEM:    spKeyPEM,
		SPCertPEM:   spCertPEM,
		HTTPClient:  ti.srv.Client(),
	}
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	formField  = regexp.MustCompile(`name="(SAMLResponse|RelayState)" value="([^"]*)"`)
)

// postedForm is what the IdP's auto-submitting page would POST to our ACS.
type postedForm struct {
	Action, SAMLResponse, RelayState string
}

// follow sends the browser (the TLS client) to u and reads the IdP's form.
func (ti *testIdP) follow(t testing.TB, u string) postedForm {
	t.Helper()
	resp, err := ti.srv.Client().Get(u)
	if err != nil {
		t.Fatalf("GET IdP: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IdP answered %d: %s", resp.StatusCode, body)
	}
	var f postedForm
	if m := formAction.FindSubmatch(body); m != nil {
		f.Action = html.UnescapeString(string(m[1]))
	}
	for _, m := range formField.FindAllSubmatch(body, -1) {
		v := html.UnescapeString(string(m[2]))
		if string(m[1]) == "SAMLResponse" {
			f.SAMLResponse = v
		} else {
			f.RelayState = v
		}
	}
	if f.SAMLResponse == "" {
		t.Fatalf("no SAMLResponse in the IdP page: %s", body)
	}
	return f
}

// login drives AuthnRequestURL → IdP → the POSTed form, and returns the
// form and the request id the SP sent.
func (ti *testIdP) login(t testing.TB, sp *SP) (postedForm, string) {
	t.Helper()
	u, reqID, err := sp.AuthnRequestURL("relay-xyz")
	if err != nil {
		t.Fatalf("AuthnRequestURL: %v", err)
	}
	f := ti.follow(t, u)
	if f.Action != testACS || f.RelayState != "relay-xyz" {
		t.Fatalf("IdP posts to %q with RelayState %q, want %q and relay-xyz", f.Action, f.RelayState, testACS)
	}
	return f, reqID
}

func mustSP(t testing.TB, c Config) *SP {
	t.Helper()
	sp, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return sp
}
