package main

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// -issuer mode: discovery, then client-credentials grants with HTTP Basic
// against any provider (here a fake one over TLS with its own CA); a
// wrong secret fails the run with the provider's answer instead of
// reporting 0 grants/s.
func TestExternalClientCredentials(t *testing.T) {
	var grants atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realms/x/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, srv.URL+"/realms/x", srv.URL+"/realms/x/token")
		case "/realms/x/token":
			id, secret, ok := r.BasicAuth()
			if r.Method != http.MethodPost || !ok || id != "svc%3Aa" && id != "svc:a" || secret != "s3cret" ||
				r.PostFormValue("grant_type") != "client_credentials" || r.PostFormValue("scope") != "api" {
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"error":"invalid_client"}`)
				return
			}
			grants.Add(1)
			io.WriteString(w, `{"access_token":"at","token_type":"Bearer","expires_in":300}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	opt, err := parseFlags([]string{"-issuer", srv.URL + "/realms/x", "-client-id", "svc:a", "-client-secret", "s3cret",
		"-issuer-ca", ca, "-scope", "api", "-clients", "3", "-duration", "300ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(opt.only) != 1 || opt.only[0] != "oauth2-cc" {
		t.Fatalf("-issuer selects %v, want oauth2-cc only", opt.only)
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"-issuer", srv.URL + "/realms/x", "-client-id", "svc:a", "-client-secret", "s3cret",
		"-issuer-ca", ca, "-scope", "api", "-clients", "3", "-duration", "300ms"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	if grants.Load() < 10 || !strings.Contains(out.String(), "OAuth2 client credentials grant, "+srv.URL+"/realms/x | 3 |") {
		t.Fatalf("%d grants; output:\n%s", grants.Load(), out.String())
	}
	err = runExternalCC(t.Context(), externalOptions{issuer: srv.URL + "/realms/x", clientID: "svc:a", clientSecret: "wrong", caFile: ca, scope: "api"},
		100*time.Millisecond, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("a wrong secret: %v, want the provider's invalid_client", err)
	}
	for _, bad := range [][]string{
		{"-issuer", srv.URL, "-client-id", "a"},
		{"-issuer", srv.URL, "-client-id", "a", "-client-secret", "b", "-only", "logins"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}
