package samlsp

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"
)

// Config is one SAML provider as the admin set it up; the SP key comes
// opened from the seal.
type Config struct {
	// SPEntityID is our entity id: the Issuer of our requests and the
	// audience every assertion must name.
	SPEntityID string
	// ACSURL is where the IdP POSTs its response; it must be the
	// Destination of the response and the Recipient of the assertion.
	ACSURL string
	// MetadataURL is where our metadata is served (informational).
	MetadataURL string
	// IdPEntityID must be the Issuer of every response and assertion.
	IdPEntityID string
	// IdPSSOURL receives our AuthnRequests (HTTP-Redirect binding).
	IdPSSOURL string
	// IdPCert is the IdP's signing certificate, PEM or base64 DER; it is
	// the only key whose signatures we accept.
	IdPCert string
	// SPKeyPEM (PKCS#8 or PKCS#1, RSA) and SPCertPEM are our pair: it signs
	// AuthnRequests and decrypts encrypted assertions.
	SPKeyPEM, SPCertPEM string
	// AllowUnsignedAssertions accepts responses without any IdP signature
	// (off by default; a signature that is present is still verified).
	AllowUnsignedAssertions bool
	// RequireEncryptedAssertions refuses responses whose assertion is not
	// an EncryptedAssertion.
	RequireEncryptedAssertions bool
	// HTTPClient is used only by Test to reach the IdP SSO URL; nil means
	// http.DefaultClient (tests pass one that trusts their CA).
	HTTPClient *http.Client
}

// SP is a configured service provider. It is safe for concurrent use.
type SP struct {
	cfg     Config
	key     *rsa.PrivateKey
	cert    *x509.Certificate
	idpCert *x509.Certificate
	// idpStore holds idpCert, the only signer whose signatures count.
	idpStore dsig.X509CertificateStore
	// gsp builds AuthnRequests and metadata; response checking does not go
	// through it (see response.go for why).
	gsp *saml2.SAMLServiceProvider
}

// New checks c and prepares the SP.
func New(c Config) (*SP, error) {
	for _, f := range []struct{ name, v string }{
		{"SP entity id", c.SPEntityID}, {"ACS URL", c.ACSURL},
		{"IdP entity id", c.IdPEntityID}, {"IdP SSO URL", c.IdPSSOURL},
	} {
		if strings.TrimSpace(f.v) == "" {
			return nil, fmt.Errorf("saml: %s is required", f.name)
		}
	}
	for _, u := range []struct{ name, v string }{{"ACS URL", c.ACSURL}, {"IdP SSO URL", c.IdPSSOURL}} {
		pu, err := url.Parse(u.v)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			return nil, fmt.Errorf("saml: %s %q is not an http(s) URL", u.name, u.v)
		}
	}
	idpCert, err := parseCert(c.IdPCert)
	if err != nil {
		return nil, fmt.Errorf("saml: IdP certificate: %w", err)
	}
	key, cert, err := parseKeyPair(c.SPKeyPEM, c.SPCertPEM)
	if err != nil {
		return nil, fmt.Errorf("saml: %w", err)
	}
	idpStore := &dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{idpCert}}
	gsp := &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:      c.IdPSSOURL,
		IdentityProviderSSOBinding:  saml2.BindingHttpRedirect,
		IdentityProviderIssuer:      c.IdPEntityID,
		AssertionConsumerServiceURL: c.ACSURL,
		ServiceProviderIssuer:       c.SPEntityID,
		AudienceURI:                 c.SPEntityID,
		SignAuthnRequests:           true,
		SignAuthnRequestsAlgorithm:  dsig.RSASHA256SignatureMethod,
		IDPCertificateStore:         idpStore,
		// The deprecated field is what gosaml2 reads for metadata's
		// encryption KeyDescriptor; SetSPKeyStore is what it signs with.
		SPKeyStore: dsig.TLSCertKeyStore{Certificate: [][]byte{cert.Raw}, PrivateKey: key},
		Clock:      dsig.NewRealClock(),
	}
	if err := gsp.SetSPKeyStore(&saml2.KeyStore{Signer: key, Cert: cert.Raw}); err != nil {
		return nil, fmt.Errorf("saml: SP key store: %w", err)
	}
	return &SP{cfg: c, key: key, cert: cert, idpCert: idpCert, idpStore: idpStore, gsp: gsp}, nil
}

// AuthnRequestURL returns the IdP URL to send the browser to: an
// AuthnRequest (random ID, IssueInstant now, our ACS, HTTP-POST response
// binding) deflated into the query, with relayState, signed RSA-SHA256 as
// the HTTP-Redirect binding says (SigAlg and Signature parameters). The
// caller keeps requestID (sealed in its state) for ParseResponse.
func (sp *SP) AuthnRequestURL(relayState string) (redirectURL, requestID string, err error) {
	doc, err := sp.gsp.BuildAuthRequestDocumentNoSig()
	if err != nil {
		return "", "", fmt.Errorf("saml: build AuthnRequest: %w", err)
	}
	requestID = doc.Root().SelectAttrValue("ID", "")
	if requestID == "" {
		return "", "", errors.New("saml: AuthnRequest has no ID")
	}
	redirectURL, err = sp.gsp.BuildAuthURLRedirect(relayState, doc)
	if err != nil {
		return "", "", fmt.Errorf("saml: sign AuthnRequest: %w", err)
	}
	return redirectURL, requestID, nil
}

// Name-id formats we list in metadata, most useful first: a persistent id
// is what links a returning user; an email address is the next best.
var metadataNameIDFormats = []string{
	"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
	nameIDFormatEmail,
	"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
}

// Metadata is our SP metadata: EntityDescriptor with an SPSSODescriptor
// (AuthnRequestsSigned, WantAssertionsSigned), our certificate as the
// signing and the encryption KeyDescriptor, the name-id formats and the ACS
// (HTTP-POST).
func (sp *SP) Metadata() ([]byte, error) {
	ed, err := sp.gsp.Metadata()
	if err != nil {
		return nil, fmt.Errorf("saml: metadata: %w", err)
	}
	ed.SPSSODescriptor.AuthnRequestsSigned = true
	ed.SPSSODescriptor.WantAssertionsSigned = true
	ed.SPSSODescriptor.NameIDFormats = metadataNameIDFormats
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("saml: encode metadata: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}
