package oauth2

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAuthorizeRequest: any query to /oauth2/authorize gets a page or a
// redirect, never a 500 or a panic.
func FuzzAuthorizeRequest(f *testing.F) {
	n := newTestNode(f)
	h := n.srv.Config.Handler
	f.Add("client_id=app&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&scope=openid&code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=S256")
	f.Add("client_id=cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&response_type=code&scope=openid%20profile&response_mode=fragment")
	f.Add("client_id=app&redirect_uri=https://evil&response_type=token")
	f.Add("%zz&client_id=%00")
	f.Fuzz(func(t *testing.T, q string) {
		r := httptest.NewRequest(http.MethodGet, "/oauth2/authorize", nil)
		r.URL.RawQuery = q
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", q, w.Code, w.Body)
		}
	})
}

// FuzzTokenRequest: any form posted to /oauth2/token gets an RFC 6749
// answer, never a 500 (but for a signing failure, which needs no key) or
// a panic.
func FuzzTokenRequest(f *testing.F) {
	n := newTestNode(f)
	h := n.srv.Config.Handler
	f.Add("grant_type=authorization_code&code=n1.abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_verifier=x", "app", secret)
	f.Add("grant_type=client_credentials&scope=read%20openid", "app", secret)
	f.Add("grant_type=refresh_token&refresh_token=ghr.AAAA", "app", secret)
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=zz", "cli", "")
	f.Add("grant_type=password&username=a&password=b", "", "")
	f.Add("grant_type=authorization_code&code=n2.x&client_id=cli", "", "")
	f.Fuzz(func(t *testing.T, form, user, pass string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", form, w.Code, w.Body)
		}
	})
}
