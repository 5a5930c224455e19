package apiclient_test

import (
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

func writeCert(t *testing.T, srv *httptest.Server, path string) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTokenStoreKeepsOneTokenPerURLInAPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "tokens.json")
	s := apiclient.TokenStore{Path: path}
	if tok, err := s.Get("https://a:1"); err != nil || tok != "" {
		t.Fatalf("missing file: %q, %v", tok, err)
	}
	if err := s.Set("https://a:1/", "ta"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("https://b:2", "tb"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, %v", fi.Mode(), err)
	}
	if tok, _ := s.Get("https://a:1"); tok != "ta" { // trailing slash is the same URL
		t.Fatalf("a = %q", tok)
	}
	if err := s.Delete("https://a:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("https://never"); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Get("https://a:1"); tok != "" {
		t.Fatalf("deleted token still there: %q", tok)
	}
	if tok, _ := s.Get("https://b:2"); tok != "tb" {
		t.Fatalf("b = %q", tok)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestTokenStoreReportsACorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(path, []byte("{nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := apiclient.TokenStore{Path: path}.Get("https://a")
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("want a corrupt-file error, got %v", err)
	}
}

func TestDefaultTokenPathHonoursTheEnvironment(t *testing.T) {
	t.Setenv(apiclient.EnvTokenFile, "/tmp/x/tokens.json")
	if p, err := apiclient.DefaultTokenPath(); err != nil || p != "/tmp/x/tokens.json" {
		t.Fatalf("DefaultTokenPath = %q, %v", p, err)
	}
	t.Setenv(apiclient.EnvTokenFile, "")
	t.Setenv("XDG_CONFIG_HOME", "/tmp/cfg")
	t.Setenv("HOME", "/tmp/home")
	if p, err := apiclient.DefaultTokenPath(); err != nil || !strings.HasSuffix(p, filepath.Join("gatehouse", "tokens.json")) {
		t.Fatalf("DefaultTokenPath = %q, %v", p, err)
	}
}
