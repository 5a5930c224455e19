package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jcmturner/goidentity/v6"
	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	gspnego "github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/gatehouse-idm/gatehouse/ops/config"
)

// The bench's realm: its [kerberos] table is what the server reads, its
// keytab holds HTTP/localhost, and spnegoLogin does both legs (challenge,
// then one AP-REQ per login) against a server checking the tokens with
// gokrb5's acceptor; a refused token is one error, not a retry loop.
func TestBenchRealmAndSPNEGOLogin(t *testing.T) {
	dir := t.TempDir()
	k, err := startBenchKDC(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer k.stop()

	path := filepath.Join(dir, "gatehouse.toml")
	if err := os.WriteFile(path, []byte("node_id = \"n1\"\n\n[api]\nlisten = \"127.0.0.1:1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := addWebAuthnOrigins(path, []string{"https://localhost:9100"}); err != nil {
		t.Fatal(err)
	}
	if err := appendConfig(path, k.configTOML()); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		raw, _ := os.ReadFile(path)
		t.Fatalf("%v\n%s", err, raw)
	}
	if kc := cfg.Kerberos; kc.Keytab != k.keytab || len(kc.Realms) != 1 || kc.Realms[0] != benchRealm ||
		len(kc.ServicePrincipals) != 1 || kc.ServicePrincipals[0] != benchSPN || len(cfg.WebAuthn.Origins) != 1 {
		t.Fatalf("decoded %+v, webauthn %+v", cfg.Kerberos, cfg.WebAuthn)
	}
	kt, err := keytab.Load(k.keytab)
	if err != nil {
		t.Fatal(err)
	}

	var ok, refused atomic.Int32
	accept := gspnego.SPNEGOKRB5Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := goidentity.FromHTTPRequestContext(r)
		if id == nil || id.UserName() != "u1" {
			refused.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"not mapped","code":"krb_unmapped"}`)
			return
		}
		ok.Add(1)
		fmt.Fprintf(w, `{"token":"t%d","name":"u1"}`, ok.Load())
	}), kt, service.DecodePAC(false))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/auth/spnego" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", "Negotiate")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"send a ticket","code":"negotiate"}`)
			return
		}
		accept.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cl := tlsClient(t, srv)

	login := func(user string) *krbclient.Client {
		if err := k.kdc.AddPrincipal(user, "pw-"+user+"-Long1"); err != nil {
			t.Fatal(err)
		}
		kc := krbclient.NewWithPassword(user, benchRealm, "pw-"+user+"-Long1", k.conf, krbclient.DisablePAFXFAST(true))
		if err := kc.Login(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kc.Destroy)
		return kc
	}
	u1, u2 := login("u1"), login("u2")
	for range 3 {
		if err := cl.spnegoLogin(t.Context(), srv.URL, u1, benchSPN); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.spnegoLogin(t.Context(), srv.URL, u2, benchSPN); err == nil || !strings.Contains(err.Error(), "not mapped") {
		t.Fatalf("refused login = %v; want the server's reason", err)
	}
	if ok.Load() != 3 || refused.Load() != 1 {
		t.Fatalf("server saw %d logins and %d refusals; want 3 and 1", ok.Load(), refused.Load())
	}
}
