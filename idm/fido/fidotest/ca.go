package fidotest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// oidFIDOAAGUID is id-fido-gen-ce-aaguid: the attestation certificate
// names the authenticator model it was issued for (WebAuthn §8.2.1).
var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// CA is a test attestation root with one intermediate and one batch
// attestation certificate, as a vendor would burn into a device model: every
// authenticator built WithAttestation(ca) shares the same leaf key and AAGUID.
type CA struct {
	cert     *x509.Certificate
	der      []byte
	interDER []byte
	leafDER  []byte
	leafKey  *ecdsa.PrivateKey
	aaguid   [16]byte
}

// NewTestCA makes a root, an intermediate and a packed-attestation leaf
// (Subject C/O/OU/CN as §8.2.1 requires, AAGUID extension, not a CA). The
// certificates are valid for a century so stored fuzz seeds stay valid.
func NewTestCA() (*CA, error) {
	c := &CA{}
	if _, err := rand.Read(c.aaguid[:]); err != nil {
		return nil, fmt.Errorf("aaguid: %w", err)
	}
	c.aaguid[6] = c.aaguid[6]&0x0f | 0x40 // a version-4 uuid, as vendors use
	c.aaguid[8] = c.aaguid[8]&0x3f | 0x80
	notBefore := time.Now().Add(-time.Hour)
	notAfter := notBefore.AddDate(100, 0, 0)

	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"Gatehouse test"}, CommonName: "fidotest root CA"},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if c.der, err = x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey); err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}
	if c.cert, err = x509.ParseCertificate(c.der); err != nil {
		return nil, fmt.Errorf("root certificate: %w", err)
	}

	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("intermediate key: %w", err)
	}
	inter := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{Organization: []string{"Gatehouse test"}, CommonName: "fidotest intermediate CA"},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if c.interDER, err = x509.CreateCertificate(rand.Reader, inter, c.cert, &interKey.PublicKey, rootKey); err != nil {
		return nil, fmt.Errorf("intermediate certificate: %w", err)
	}
	interCert, err := x509.ParseCertificate(c.interDER)
	if err != nil {
		return nil, fmt.Errorf("intermediate certificate: %w", err)
	}

	if c.leafKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, fmt.Errorf("attestation key: %w", err)
	}
	ext, err := asn1.Marshal(c.aaguid[:])
	if err != nil {
		return nil, fmt.Errorf("aaguid extension: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject: pkix.Name{Country: []string{"SE"}, Organization: []string{"Gatehouse test"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "fidotest authenticator"},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidFIDOAAGUID, Value: ext}},
	}
	if c.leafDER, err = x509.CreateCertificate(rand.Reader, leaf, interCert, &c.leafKey.PublicKey, interKey); err != nil {
		return nil, fmt.Errorf("attestation certificate: %w", err)
	}
	return c, nil
}

// DER is the root certificate, as entry.AttestationCA.CA holds it.
func (c *CA) DER() []byte { return c.der }

// Certificate is the parsed root certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// AAGUID is the device model the attestation certificate was issued for, as
// a uuid string (the key form of entry.AttestationCA.AAGUIDs).
func (c *CA) AAGUID() string { return uuidString(c.aaguid) }

// Entry is this CA as one entry of a policy's attestation CA list, allowing
// exactly its AAGUID.
func (c *CA) Entry() entry.AttestationCA {
	return entry.AttestationCA{CA: c.der, AAGUIDs: map[string]string{c.AAGUID(): "fidotest authenticator"}}
}

func uuidString(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
