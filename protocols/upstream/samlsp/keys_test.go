package samlsp

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func certOf(t *testing.T, certPEM string) *x509.Certificate {
	t.Helper()
	c, err := parseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerateSPKey(t *testing.T) {
	testKeys(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	// The default is 3072 bits (once: it is the slow one).
	keyPEM, certPEM, err := GenerateSPKey("https://sp.example/metadata", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	c := certOf(t, certPEM)
	if n := c.PublicKey.(*rsa.PublicKey).N.BitLen(); n != 3072 {
		t.Fatalf("default key is %d bits", n)
	}
	if c.Subject.CommonName != "https://sp.example/metadata" || c.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Fatalf("CN %q, algorithm %v", c.Subject.CommonName, c.SignatureAlgorithm)
	}
	if !c.NotBefore.Equal(now) || !c.NotAfter.Equal(now.AddDate(10, 0, 0)) {
		t.Fatalf("validity %v .. %v, want ten years from %v", c.NotBefore, c.NotAfter, now)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if !strings.HasPrefix(keyPEM, "-----BEGIN PRIVATE KEY-----") {
		t.Fatal("key is not PKCS#8 PEM")
	}
	if err := CheckKeyPair(keyPEM, certPEM); err != nil {
		t.Fatal(err)
	}

	// 2048 on request (the shared test pair is one).
	if n := certOf(t, spCertPEM).PublicKey.(*rsa.PublicKey).N.BitLen(); n != 2048 {
		t.Fatalf("2048 request gave %d bits", n)
	}
	for _, bits := range []int{1024, 4096, 2047, -1} {
		if _, _, err := GenerateSPKey("x", bits, now); err == nil {
			t.Fatalf("%d bits accepted", bits)
		}
	}
	if _, _, err := GenerateSPKey(" ", 2048, now); err == nil {
		t.Fatal("empty entity id accepted")
	}
}

func TestCheckKeyPair(t *testing.T) {
	testKeys(t)
	key, err := parseRSAKey(spKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	derB64 := base64.StdEncoding.EncodeToString(certOf(t, spCertPEM).Raw)
	// Base64 DER as consoles show it: wrapped at 64 columns.
	var wrapped strings.Builder
	for i := 0; i < len(derB64); i += 64 {
		wrapped.WriteString(derB64[i:min(i+64, len(derB64))] + "\n")
	}
	for name, pair := range map[string][2]string{
		"PKCS#8 + PEM":            {spKeyPEM, spCertPEM},
		"PKCS#1 + PEM":            {pkcs1, spCertPEM},
		"PKCS#8 + base64 DER":     {spKeyPEM, derB64},
		"PKCS#1 + wrapped base64": {pkcs1, wrapped.String()},
	} {
		if err := CheckKeyPair(pair[0], pair[1]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckKeyPair(spKeyPEM, otherCertPEM); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched pair: %v", err)
	}
	if err := CheckKeyPair("not a key", spCertPEM); err == nil {
		t.Fatal("garbage key accepted")
	}
	if err := CheckKeyPair(spKeyPEM, "bm90IGEgY2VydA=="); err == nil {
		t.Fatal("garbage certificate accepted")
	}
	// New refuses a mismatched pair too.
	ti := newTestIdP(t, nil)
	c := ti.config()
	c.SPCertPEM = otherCertPEM
	if _, err := New(c); err == nil {
		t.Fatal("New accepted a mismatched pair")
	}
}
