package oidcup_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup/oidcuptest"
)

// jwksFront serves op's JWKS through handle, which decides per request
// (n counts from 1) whether to pass it on.
func jwksFront(t *testing.T, op *oidcuptest.Provider, handle func(n int64, w http.ResponseWriter, real []byte) bool) string {
	t.Helper()
	var calls atomic.Int64
	stop := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := op.Client().Get(op.JWKSURL())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		real, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !handle(calls.Add(1), w, real) {
			select { // a provider that stops answering
			case <-stop:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv.URL
}

func oauth2WithJWKS(t *testing.T, op *oidcuptest.Provider, jwksURL string, timeout time.Duration) *oidcup.Provider {
	t.Helper()
	p, err := oidcup.NewOAuth2(oidcup.Config{
		AuthURL: op.AuthURL(), TokenURL: op.TokenURL(), UserInfoURL: op.UserInfoURL(), JWKSURL: jwksURL,
		ClientID: "client", ClientSecret: "secret", RedirectURL: redirectURL,
		Scopes: []string{"openid"}, HTTPClient: op.Client(), Timeout: timeout,
	})
	if err != nil {
		t.Fatalf("NewOAuth2: %v", err)
	}
	return p
}

// go-oidc fetches keys on a context that never ends, one fetch at a time:
// a JWKS endpoint that hangs once must not block every later login.
func TestHangingJWKSDoesNotBlockLaterLogins(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{User: alice})
	url := jwksFront(t, op, func(n int64, w http.ResponseWriter, real []byte) bool {
		if n == 1 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(real)
		return true
	})
	p := oauth2WithJWKS(t, op, url, 300*time.Millisecond)
	if _, err := login(t, p, op, ""); err == nil {
		t.Fatal("login succeeded while the JWKS endpoint hung")
	}
	id, err := login(t, p, op, "")
	if err != nil || id.Subject != "alice-sub" {
		t.Fatalf("login after the JWKS endpoint recovered = %+v, %v", id, err)
	}
}

// An answer over 1 MiB is refused, whichever library reads it.
func TestOversizedJWKSIsRefused(t *testing.T) {
	op := oidcuptest.New(t, oidcuptest.Options{User: alice})
	url := jwksFront(t, op, func(_ int64, w http.ResponseWriter, real []byte) bool {
		w.Header().Set("Content-Type", "application/json")
		w.Write(real)
		w.Write([]byte(strings.Repeat(" ", 2<<20))) // still valid JSON
		return true
	})
	p := oauth2WithJWKS(t, op, url, 0)
	_, err := login(t, p, op, "")
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("login with a 2 MiB JWKS = %v; want a size refusal", err)
	}
}
