package apiclient_test

import (
	"encoding/pem"
	"errors"
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

	"github.com/jcmturner/goidentity/v6"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	gspnego "github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/gatehouse-idm/gatehouse/ops/mitkdc"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

const testRealm = "EXAMPLE.COM"

// krbRealm is a real MIT KDC with alice and bob, HTTP/localhost's key in
// a keytab and a kinit cache per user.
type krbRealm struct {
	kdc    *mitkdc.KDC
	keytab *keytab.Keytab
	cache  map[string]string // user → ccache path
}

func startRealm(t *testing.T) *krbRealm {
	t.Helper()
	dir := t.TempDir()
	kdc, err := mitkdc.Start(dir, testRealm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kdc.Stop)
	r := &krbRealm{kdc: kdc, cache: map[string]string{}}
	if err := kdc.AddRandKey("HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	ktPath := filepath.Join(dir, "http.keytab")
	if err := kdc.Keytab(ktPath, "HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	if r.keytab, err = keytab.Load(ktPath); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		pw := "pw-" + u + "-Secret1"
		if err := kdc.AddPrincipal(u, pw); err != nil {
			t.Fatal(err)
		}
		cc := filepath.Join(dir, u+".ccache")
		if err := kdc.Kinit(cc, u+"@"+testRealm, pw); err != nil {
			t.Fatal(err)
		}
		r.cache[u] = cc
	}
	return r
}

// spnegoServer answers GET /v1/auth/spnego like Gatehouse: 401 with the
// Negotiate challenge and a JSON reason, then (gokrb5's acceptor checking
// the AP-REQ) a token for alice and a refusal with a reason for anyone
// else. Any other path is 404 (a server without Kerberos).
func spnegoServer(t *testing.T, kt *keytab.Keytab) (*httptest.Server, string, *atomic.Int32) {
	var logins atomic.Int32
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := goidentity.FromHTTPRequestContext(r)
		w.Header().Set("Content-Type", "application/json")
		if id == nil {
			http.Error(w, "no identity", http.StatusInternalServerError)
			return
		}
		if id.UserName() != "alice" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"principal %s@%s is not mapped to a person","code":"krb_unmapped"}`, id.UserName(), id.Domain())
			return
		}
		n := logins.Add(1)
		fmt.Fprintf(w, `{"token":"tok-%d","name":"alice","expires":"2030-01-02T03:04:05Z"}`, n)
	})
	accept := gspnego.SPNEGOKRB5Authenticate(ok, kt, service.DecodePAC(false))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/auth/spnego", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", "Negotiate")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"a Kerberos ticket is needed","code":"krb_negotiate"}`)
			return
		}
		accept.ServeHTTP(w, r)
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca, &logins
}

// alice logs in twice from her kinit cache with no password; bob's valid
// ticket is refused by the server and its reason reaches the caller; a
// server without the route says Kerberos is not offered.
func TestLoginKerberosAgainstARealKDC(t *testing.T) {
	realm := startRealm(t)
	srv, ca, logins := spnegoServer(t, realm.keytab)
	ctx := t.Context()

	krb, err := apiclient.KerberosClient(realm.cache["alice"], realm.kdc.Krb5Conf(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := apiclient.New(srv.URL, ca, "")
	if err != nil {
		t.Fatal(err)
	}
	// The URL names 127.0.0.1: the service principal is given.
	for i := 1; i <= 2; i++ {
		got, err := c.LoginKerberos(ctx, krb, "HTTP/localhost")
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		want := fmt.Sprintf("tok-%d", i)
		if got.Token != want || got.Name != "alice" || c.Token() != want || !got.Expires.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Fatalf("login %d = %+v (client token %q), want token %s for alice", i, got, c.Token(), want)
		}
	}
	if logins.Load() != 2 {
		t.Fatalf("server counted %d logins, want 2", logins.Load())
	}

	bobKrb, err := apiclient.KerberosClient(realm.cache["bob"], realm.kdc.Krb5Conf(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *apiclient.Error
	_, err = c.LoginKerberos(ctx, bobKrb, "HTTP/localhost")
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || apiErr.Code != "krb_unmapped" ||
		!strings.Contains(apiErr.Message, "bob@"+testRealm+" is not mapped") {
		t.Fatalf("bob's login = %v; want the server's 401 reason", err)
	}

	// A ticket for a service the server has no key for: gokrb5's acceptor
	// refuses it; the client stops after one try instead of looping.
	if err := realm.kdc.AddRandKey("HTTP/otherhost"); err != nil {
		t.Fatal(err)
	}
	if _, err = c.LoginKerberos(ctx, krb, "HTTP/otherhost"); !apiclient.IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("login with a ticket for another service = %v; want a 401", err)
	}
	// A principal the KDC does not know: the error names it.
	if _, err = c.LoginKerberos(ctx, krb, "HTTP/nosuchhost"); err == nil || !strings.Contains(err.Error(), "HTTP/nosuchhost") {
		t.Fatalf("login for an unknown service principal = %v; want an error naming it", err)
	}

	plain := httptest.NewTLSServer(http.NotFoundHandler())
	defer plain.Close()
	ca2 := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca2, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: plain.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c2, err := apiclient.New(plain.URL, ca2, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.LoginKerberos(ctx, krb, "HTTP/localhost"); err == nil || !strings.Contains(err.Error(), "does not offer Kerberos") {
		t.Fatalf("login at a server without Kerberos = %v; want 'does not offer Kerberos'", err)
	}

	// An expired TGT is refused before any request, with the advice.
	if _, err := apiclient.KerberosClient(realm.cache["alice"], realm.kdc.Krb5Conf(), time.Now().Add(48*time.Hour)); err == nil ||
		!strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "kinit") {
		t.Fatalf("expired ticket: %v; want 'expired … run kinit'", err)
	}
}

func TestKerberosClientRefusesMissingOrBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n  default_realm = EXAMPLE.COM\n[realms]\n  EXAMPLE.COM = {\n    kdc = 127.0.0.1:1\n  }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(junk, []byte{5, 4, 0, 12, 0, 1}, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, ccache, conf, want string }{
		{"no cache", filepath.Join(dir, "none"), conf, "no Kerberos credential cache"},
		{"empty cache", empty, conf, "empty"},
		{"damaged cache", junk, conf, "run kinit"},
		{"no krb5.conf", filepath.Join(dir, "none"), filepath.Join(dir, "no-krb5.conf"), "KRB5_CONFIG"},
	} {
		_, err := apiclient.KerberosClient(c.ccache, c.conf, time.Now())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestKerberosPathsFollowMITsEnvironment(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	uidCache := fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	for _, c := range []struct {
		env          map[string]string
		ccache, conf string
		err          string
	}{
		{map[string]string{}, uidCache, "/etc/krb5.conf", ""},
		{map[string]string{"KRB5CCNAME": "FILE:/x/cc", "KRB5_CONFIG": "/x/krb5.conf:/etc/krb5.conf"}, "/x/cc", "/x/krb5.conf", ""},
		{map[string]string{"KRB5CCNAME": "/x/cc"}, "/x/cc", "/etc/krb5.conf", ""},
		{map[string]string{"KRB5CCNAME": "KCM:1000"}, "", "", "only FILE:"},
		{map[string]string{"KRB5CCNAME": "KEYRING:persistent:1000"}, "", "", "only FILE:"},
	} {
		cc, conf, err := apiclient.KerberosPaths(env(c.env))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: err %v, want %q", c.env, err, c.err)
			}
			continue
		}
		if err != nil || cc != c.ccache || conf != c.conf {
			t.Errorf("%v: %q %q %v; want %q %q", c.env, cc, conf, err, c.ccache, c.conf)
		}
	}
	for u, want := range map[string]string{"https://idm.example.com:8443": "HTTP/idm.example.com", "https://localhost": "HTTP/localhost", "https://[::1]:1": "HTTP/::1"} {
		if got, err := apiclient.DefaultSPN(u); err != nil || got != want {
			t.Errorf("DefaultSPN(%s) = %q, %v; want %q", u, got, err, want)
		}
	}
}
