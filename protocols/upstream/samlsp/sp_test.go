package samlsp

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

func TestAuthnRequestSignedRedirect(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	sp := mustSP(t, ti.config())
	before := time.Now().Add(-time.Second)
	u1, id1, err := sp.AuthnRequestURL("state-1")
	if err != nil {
		t.Fatal(err)
	}
	_, id2, _ := sp.AuthnRequestURL("state-1")
	if id1 == "" || id1 == id2 {
		t.Fatalf("request ids %q, %q: want random", id1, id2)
	}
	pu, _ := url.Parse(u1)
	q := pu.Query()
	if !strings.HasPrefix(u1, ti.idp.SSOURL.String()+"?") || q.Get("RelayState") != "state-1" {
		t.Fatalf("URL %s", u1)
	}
	if q.Get("SigAlg") != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" {
		t.Fatalf("SigAlg %q", q.Get("SigAlg"))
	}
	// The redirect-binding signature over the raw query parameters, checked
	// with the SP certificate the IdP has from our metadata.
	raw := pu.RawQuery
	param := func(name string) string {
		for _, kv := range strings.Split(raw, "&") {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return name + "=" + v
			}
		}
		return ""
	}
	signedPart := param("SAMLRequest") + "&" + param("RelayState") + "&" + param("SigAlg")
	sig, _ := base64.StdEncoding.DecodeString(q.Get("Signature"))
	sum := sha256.Sum256([]byte(signedPart))
	pub := certOf(t, spCertPEM).PublicKey.(*rsa.PublicKey)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("request signature: %v", err)
	}

	// The request itself.
	deflated, _ := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	xmlBytes, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatal(err)
	}
	var req saml.AuthnRequest
	if err := xml.Unmarshal(xmlBytes, &req); err != nil {
		t.Fatal(err)
	}
	if req.ID != id1 || req.AssertionConsumerServiceURL != testACS ||
		req.ProtocolBinding != "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ||
		req.Issuer == nil || req.Issuer.Value != testSPEntity || req.Destination != ti.idp.SSOURL.String() {
		t.Fatalf("request %+v", req)
	}
	if req.IssueInstant.Before(before) || req.IssueInstant.After(time.Now().Add(time.Second)) {
		t.Fatalf("IssueInstant %v is not now", req.IssueInstant)
	}
}

func TestMetadata(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	sp := mustSP(t, ti.config())
	md, err := sp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(md, &ed); err != nil {
		t.Fatal(err)
	}
	if ed.EntityID != testSPEntity || len(ed.SPSSODescriptors) != 1 {
		t.Fatalf("metadata %s", md)
	}
	d := ed.SPSSODescriptors[0]
	if d.AuthnRequestsSigned == nil || !*d.AuthnRequestsSigned || d.WantAssertionsSigned == nil || !*d.WantAssertionsSigned {
		t.Fatalf("signing flags in %s", md)
	}
	uses := map[string]string{}
	for _, kd := range d.KeyDescriptors {
		uses[kd.Use] = strings.Join(strings.Fields(kd.KeyInfo.X509Data.X509Certificates[0].Data), "")
	}
	want := base64.StdEncoding.EncodeToString(certOf(t, spCertPEM).Raw)
	if uses["signing"] != want || uses["encryption"] != want {
		t.Fatalf("KeyDescriptors %v", uses)
	}
	if len(d.AssertionConsumerServices) != 1 || d.AssertionConsumerServices[0].Location != testACS ||
		d.AssertionConsumerServices[0].Binding != saml.HTTPPostBinding {
		t.Fatalf("ACS %+v", d.AssertionConsumerServices)
	}
	if len(d.NameIDFormats) == 0 {
		t.Fatal("no NameIDFormat")
	}
}

func TestTestConnection(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	c := ti.config()
	checks := Test(context.Background(), c)
	if len(checks) != 4 {
		t.Fatalf("checks %+v", checks)
	}
	for _, ch := range checks {
		if !ch.OK || ch.Detail == "" {
			t.Fatalf("check failed on a good setup: %+v", ch)
		}
		t.Logf("%s: %s", ch.Name, ch.Detail)
	}

	// Everything wrong: a dead URL, a mismatched pair, an unreadable IdP
	// certificate.
	bad := c
	bad.IdPSSOURL = "https://127.0.0.1:1/sso"
	bad.SPCertPEM = otherCertPEM
	bad.IdPCert = "garbage"
	failed := 0
	for _, ch := range Test(context.Background(), bad) {
		if !ch.OK {
			failed++
		}
		t.Logf("bad: %s ok=%v: %s", ch.Name, ch.OK, ch.Detail)
	}
	if failed != 3 {
		t.Fatalf("%d checks failed on a broken setup, want 3", failed)
	}

	// Certificate windows in words.
	now := time.Now()
	if ok, d := certWindow(now.Add(-time.Hour), now.Add(-time.Minute), now); ok || !strings.Contains(d, "expired") {
		t.Fatalf("expired: %v %s", ok, d)
	}
	if ok, d := certWindow(now.Add(time.Hour), now.Add(48*time.Hour), now); ok || !strings.Contains(d, "not valid yet") {
		t.Fatalf("future: %v %s", ok, d)
	}
	if ok, d := certWindow(now.Add(-time.Hour), now.Add(48*time.Hour), now); ok || !strings.Contains(d, "expires soon") {
		t.Fatalf("soon: %v %s", ok, d)
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	good := ti.config()
	for name, edit := range map[string]func(*Config){
		"no SP entity id": func(c *Config) { c.SPEntityID = "" },
		"no ACS":          func(c *Config) { c.ACSURL = "" },
		"ACS not a URL":   func(c *Config) { c.ACSURL = "acs" },
		"no IdP entity":   func(c *Config) { c.IdPEntityID = "" },
		"no SSO URL":      func(c *Config) { c.IdPSSOURL = "" },
		"no IdP cert":     func(c *Config) { c.IdPCert = "" },
		"no SP key":       func(c *Config) { c.SPKeyPEM = "" },
	} {
		c := good
		edit(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
