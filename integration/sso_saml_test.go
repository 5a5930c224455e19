package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"html"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/logger"
)

// samlIdP is crewjam/saml's IdentityProvider (independent of our SP's
// gosaml2/goxmldsig code) on an httptest TLS server.
type samlIdP struct {
	srv     *httptest.Server
	idp     *saml.IdentityProvider
	certPEM string
	mu      sync.Mutex
	sp      *saml.EntityDescriptor
	tweak   func(*saml.Assertion)
}

func newSAMLIdP(t *testing.T) *samlIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "test IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s := &samlIdP{certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
	mux := http.NewServeMux()
	s.srv = httptest.NewTLSServer(mux)
	t.Cleanup(s.srv.Close)
	base, _ := url.Parse(s.srv.URL)
	s.idp = &saml.IdentityProvider{Key: key, Certificate: cert, Logger: logger.DefaultLogger,
		MetadataURL: *base.JoinPath("/metadata"), SSOURL: *base.JoinPath("/sso"),
		ServiceProviderProvider: s, SessionProvider: s, AssertionMaker: s}
	mux.HandleFunc("/sso", s.idp.ServeSSO)
	return s
}

func (s *samlIdP) GetServiceProvider(*http.Request, string) (*saml.EntityDescriptor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sp, nil
}

func (s *samlIdP) GetSession(http.ResponseWriter, *http.Request, *saml.IdpAuthnRequest) *saml.Session {
	return &saml.Session{ID: "sess-1", CreateTime: time.Now(), ExpireTime: time.Now().Add(time.Hour), Index: "1",
		NameID: "saml-alice-0001", NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
		UserName: "salice", UserEmail: "salice@example.com", UserCommonName: "SAML Alice"}
}

func (s *samlIdP) MakeAssertion(req *saml.IdpAuthnRequest, sess *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, sess); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tweak != nil {
		s.tweak(req.Assertion)
	}
	return nil
}

// setSP feeds the IdP our metadata as the node serves it; plain removes
// the encryption key so the IdP sends a signed, unencrypted assertion.
func (s *samlIdP) setSP(t *testing.T, md string, plain bool) {
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(md), &ed); err != nil {
		t.Fatalf("crewjam cannot read our metadata: %v\n%s", err, md)
	}
	if plain {
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
	s.mu.Lock()
	s.sp = &ed
	s.mu.Unlock()
}

var (
	samlFormAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	samlFormField  = regexp.MustCompile(`name="(SAMLResponse|RelayState)" value="([^"]*)"`)
)

// samlForm is the IdP's auto-submitting form.
type samlForm struct{ action, response, relay string }

func parseSAMLForm(t *testing.T, body string) samlForm {
	t.Helper()
	var f samlForm
	if m := samlFormAction.FindStringSubmatch(body); m != nil {
		f.action = html.UnescapeString(m[1])
	}
	for _, m := range samlFormField.FindAllStringSubmatch(body, -1) {
		if m[1] == "SAMLResponse" {
			f.response = html.UnescapeString(m[2])
		} else {
			f.relay = html.UnescapeString(m[2])
		}
	}
	if f.response == "" || f.action == "" {
		t.Fatalf("no SAML form in the IdP's page: %s", body)
	}
	return f
}

// post submits the form as a browser does: a cross-site POST (Origin and
// Sec-Fetch-Site of the IdP), following the redirect after it.
func (b *browser) postSAML(f samlForm, idpOrigin string, flow *http.Cookie) (int, string) {
	b.t.Helper()
	b.legs = nil
	form := url.Values{"SAMLResponse": {f.response}, "RelayState": {f.relay}}
	req, _ := http.NewRequest("POST", f.action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", idpOrigin)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if flow != nil {
		req.AddCookie(flow)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("POST %s: %v", f.action, err)
	}
	return b.arrive(resp)
}

func (b *browser) flowCookie() *http.Cookie {
	u, _ := url.Parse("https://localhost/")
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == "__Host-gatehouse-sso" {
			return c
		}
	}
	return nil
}

// SAML logins against crewjam/saml's IdP through the node's SP metadata,
// begin and ACS on different nodes behind HAProxy: encrypted and plain
// signed assertions accepted; a replayed response (at another node),
// wrong audience and expired assertions refused.
func TestSSOSAML(t *testing.T) {
	idp := newSAMLIdP(t)
	// The node never fetches from this IdP (the browser carries everything); the
	// browser must trust its TLS certificate.
	e := startSSO(t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.srv.Certificate().Raw}))
	id := e.createProvider(map[string]any{"name": "Okta", "type": "saml", "enabled": true, "auto_enable": true,
		"sp_entity_id": "https://localhost/sp", "idp_entity_id": idp.idp.MetadataURL.String(),
		"idp_sso_url": idp.idp.SSOURL.String(), "idp_cert": idp.certPEM, "sp_key_bits": 2048})
	b := e.browser()
	st, md := b.get("https://localhost/ui/sso/saml/" + id + "/metadata")
	if st != 200 || !strings.Contains(md, "https://localhost/ui/sso/saml/"+id+"/acs") || !strings.Contains(md, "X509Certificate") {
		t.Fatalf("metadata: %d %s", st, md)
	}
	idpOrigin := idp.srv.URL

	// login begins at the node and returns the IdP's form and the flow cookie.
	begin := func(b *browser) (samlForm, *http.Cookie) {
		t.Helper()
		st, body := b.get("https://localhost/ui/sso/login/" + id)
		if st != 200 {
			t.Fatalf("begin: %d %s", st, body)
		}
		return parseSAMLForm(t, body), b.flowCookie()
	}

	for _, plain := range []bool{false, true} {
		idp.setSP(t, md, plain)
		b := e.browser()
		f, _ := begin(b)
		beginNode := b.legs[0].Node
		st, body := b.postSAML(f, idpOrigin, nil)
		if st != 200 {
			t.Fatalf("plain=%v: %d %s legs %+v", plain, st, body, b.legs)
		}
		acs, ok := b.legAt("/ui/sso/saml/")
		if !ok || acs.Node == "" || acs.Node == beginNode {
			t.Fatalf("plain=%v: begin at %q, ACS at %+v", plain, beginNode, b.legs)
		}
		if name, mech, ok := b.session(); !ok || name == "" || mech != "sso" {
			t.Fatalf("plain=%v: session %q %q %v", plain, name, mech, ok)
		}
	}

	t.Run("a replayed response is refused at another node", func(t *testing.T) {
		b := e.browser()
		f, flow := begin(b)
		if st, body := b.postSAML(f, idpOrigin, nil); st != 200 {
			t.Fatalf("first post: %d %s", st, body)
		}
		first := b.legs[0].Node
		st, body := b.postSAML(f, idpOrigin, flow)
		if st != http.StatusBadRequest || !strings.Contains(body, "replayed") {
			t.Fatalf("replay: %d %s", st, body)
		}
		if b.legs[0].Node == first {
			t.Fatalf("the replay reached the same node %s", first)
		}
	})

	refusal := func(t *testing.T, tweak func(*saml.Assertion), words string) {
		t.Helper()
		idp.mu.Lock()
		idp.tweak = tweak
		idp.mu.Unlock()
		defer func() { idp.mu.Lock(); idp.tweak = nil; idp.mu.Unlock() }()
		b := e.browser()
		f, _ := begin(b)
		st, body := b.postSAML(f, idpOrigin, nil)
		if st != http.StatusBadRequest || !strings.Contains(strings.ToLower(body), words) {
			t.Fatalf("want 400 with %q, got %d %s", words, st, body)
		}
		if _, _, ok := b.session(); ok {
			t.Fatal("a refused response gave a session")
		}
	}
	t.Run("wrong audience", func(t *testing.T) {
		refusal(t, func(a *saml.Assertion) {
			a.Conditions.AudienceRestrictions = []saml.AudienceRestriction{{Audience: saml.Audience{Value: "https://other.example/sp"}}}
		}, "audience")
	})
	t.Run("expired", func(t *testing.T) {
		refusal(t, func(a *saml.Assertion) {
			past := time.Now().Add(-2 * time.Hour)
			a.Conditions.NotBefore = past.Add(-time.Hour)
			a.Conditions.NotOnOrAfter = past
		}, "expire")
	})
}
