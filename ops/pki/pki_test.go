package pki

import (
	"crypto/x509"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInitThenIssueNodeCertChainsToCA(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "cluster")
	if err := Init(caDir); err != nil {
		t.Fatalf("Init: %v", err)
	}
	for _, name := range []string{GossipKeyFile, EncryptionKeyFile} {
		data, err := os.ReadFile(filepath.Join(caDir, name))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(raw) != 32 {
			t.Fatalf("%s: want base64 of 32 bytes, got %d bytes, err %v", name, len(raw), err)
		}
		assertMode(t, filepath.Join(caDir, name), 0o600)
	}
	assertMode(t, filepath.Join(caDir, CAKeyFile), 0o600)
	assertMode(t, filepath.Join(caDir, CAFile), 0o644)

	certPath, keyPath := filepath.Join(dir, "n1", "node.pem"), filepath.Join(dir, "n1", "node.key")
	if err := IssueNodeCert(caDir, "n1", []string{"localhost", "127.0.0.1"}, 24*time.Hour, certPath, keyPath); err != nil {
		t.Fatalf("IssueNodeCert: %v", err)
	}
	assertMode(t, keyPath, 0o600)
	cert, err := LoadCertificate(certPath)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := CertPool(filepath.Join(caDir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, eku := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{eku}}); err != nil {
			t.Errorf("verify for EKU %v: %v", eku, err)
		}
	}
	if cert.Subject.CommonName != "n1" {
		t.Errorf("CN = %q, want n1", cert.Subject.CommonName)
	}
	if !slices.Contains(cert.DNSNames, "localhost") {
		t.Errorf("DNS SANs %v lack localhost", cert.DNSNames)
	}
	if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("IP SANs = %v, want [127.0.0.1]", cert.IPAddresses)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("VerifyHostname(127.0.0.1): %v", err)
	}
	if d := time.Until(cert.NotAfter); d > 25*time.Hour || d < 23*time.Hour {
		t.Errorf("validity ends in %v, want about 24h", d)
	}
}

func TestInitRefusesToOverwriteCA(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, CAFile))
	err := Init(dir)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second Init: got %v, want a refusal", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CAFile))
	if string(before) != string(after) {
		t.Fatal("CA changed after a refused Init")
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", path, got, want)
	}
}
