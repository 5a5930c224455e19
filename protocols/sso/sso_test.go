package sso

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/ldapup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/samlsp"
)

const provID = "0f8e6a52-5c1b-4d3a-9f77-1d2c3b4a5e6f"

type fakeDir struct {
	p       *entry.SSOProvider
	res     Resolution
	err     error
	allowed bool
}

func (d *fakeDir) Provider(id string) (*entry.SSOProvider, bool) {
	if id == d.p.UUID {
		return d.p, true
	}
	return nil, false
}
func (d *fakeDir) Providers() []*entry.SSOProvider                      { return []*entry.SSOProvider{d.p} }
func (d *fakeDir) OIDCConfig(*entry.SSOProvider) (oidcup.Config, error) { return oidcup.Config{}, nil }
func (d *fakeDir) LDAPConfig(*entry.SSOProvider) (ldapup.Config, error) { return ldapup.Config{}, nil }
func (d *fakeDir) SAMLConfig(*entry.SSOProvider) (samlsp.Config, error) { return samlsp.Config{}, nil }
func (d *fakeDir) SSOAllowed(*entry.Entry) bool                         { return d.allowed }
func (d *fakeDir) Resolve(context.Context, *entry.SSOProvider, upstream.Identity, string) (Resolution, error) {
	return d.res, d.err
}

type fakeIssuer struct {
	mech string
	// codes are the TOTP codes that pass (each once, like the engine's
	// step claim).
	codes map[string]bool
	// sessions are the valid session tokens (VerifySession).
	sessions map[string]*token.Claims
}

func (f *fakeIssuer) CheckTOTP(_ context.Context, acct string, code auth.Code) error {
	if f.codes[acct+"/"+string(code)] {
		delete(f.codes, acct+"/"+string(code))
		return nil
	}
	return auth.ErrTOTPWrong
}

func (f *fakeIssuer) IssueExternal(_ context.Context, a *entry.Entry, mech, issue string) (string, time.Time, error) {
	f.mech = mech
	if a.Disabled {
		return "", time.Time{}, auth.ErrDisabled
	}
	return "tok-" + a.Name, time.Now().Add(time.Hour), nil
}

// VerifySession knows the sessions of the test by their raw token.
func (f *fakeIssuer) VerifySession(raw string) (*token.Claims, error) {
	if c, ok := f.sessions[raw]; ok {
		return c, nil
	}
	return nil, auth.ErrReauthSession
}

func (f *fakeIssuer) ReauthExternal(_ context.Context, c *token.Claims, a *entry.Entry, mech, issue string) (string, time.Time, error) {
	f.mech = mech
	if c.Subject != a.UUID {
		return "", time.Time{}, auth.ErrReauthAccount
	}
	return "rw-" + c.SessionID, time.Now().Add(time.Hour), nil
}

type fakeOIDC struct{ ident upstream.Identity }

func (f *fakeOIDC) AuthCodeURL(state, nonce, v string) string {
	return "https://idp.example/auth?state=" + url.QueryEscape(state) + "&nonce=" + nonce
}
func (f *fakeOIDC) Exchange(_ context.Context, code, v, nonce string) (upstream.Identity, error) {
	if code != "good" || v == "" || nonce == "" {
		return upstream.Identity{}, errors.New("Invalid signature algorithm HS256")
	}
	return f.ident, nil
}

type fixture struct {
	h   *Handler
	dir *fakeDir
	iss *fakeIssuer
	mux *http.ServeMux
}

func newFixture(t testing.TB) *fixture {
	s, err := seal.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	dir := &fakeDir{p: &entry.SSOProvider{UUID: provID, Name: "Corp", Type: entry.SSOTypeOIDC, Enabled: true, Version: 1},
		res: Resolution{Account: &entry.Entry{UUID: "a1", Name: "alice", Class: entry.Person}}, allowed: true}
	iss := &fakeIssuer{}
	g := authguard.New(authguard.Options{})
	t.Cleanup(g.Close)
	h := &Handler{Dir: dir, Issue: iss, Guard: g, Sealer: s, Origin: "https://idm.example", NodeID: "n1",
		SessionCookie: func(tok string, exp time.Time) *http.Cookie {
			return &http.Cookie{Name: "__Host-gatehouse-session", Value: tok, Path: "/", Secure: true}
		}}
	h.conns.newOIDC = func(context.Context, *entry.SSOProvider) (oidcClient, error) {
		return &fakeOIDC{ident: upstream.Identity{Subject: "s1", MFA: true}}, nil
	}
	mux := http.NewServeMux()
	for p, hh := range h.Routes() {
		mux.Handle(p, hh)
	}
	return &fixture{h: h, dir: dir, iss: iss, mux: mux}
}

func (f *fixture) do(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, req)
	return w
}

// begin runs the first leg and returns the flow cookie and the state.
func (f *fixture) begin(t *testing.T, next string) (*http.Cookie, string) {
	t.Helper()
	w := f.do(httptest.NewRequest("GET", "/ui/sso/login/"+provID+"?next="+url.QueryEscape(next), nil))
	if w.Code != http.StatusFound {
		t.Fatalf("begin: %d %s", w.Code, w.Body)
	}
	loc, _ := url.Parse(w.Header().Get("Location"))
	var c *http.Cookie
	for _, k := range w.Result().Cookies() {
		if k.Name == CookieFlow {
			c = k
		}
	}
	if c == nil || loc.Query().Get("state") == "" {
		t.Fatalf("begin: no flow cookie or state: %v", w.Header())
	}
	return c, loc.Query().Get("state")
}

func (f *fixture) callback(c *http.Cookie, query string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/ui/sso/callback/"+provID+"?"+query, nil)
	if c != nil {
		req.AddCookie(c)
	}
	return f.do(req)
}

func TestOIDCRoundTrip(t *testing.T) {
	f := newFixture(t)
	c, state := f.begin(t, "/ui/oauth2/authorize?id=xyz")
	w := f.callback(c, "code=good&state="+state)
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/ui/oauth2/authorize?id=xyz" {
		t.Fatalf("callback: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if !strings.Contains(w.Header().Get("Set-Cookie"), "tok-alice") && len(w.Result().Cookies()) < 2 {
		t.Fatalf("no session cookie: %v", w.Header())
	}
	if f.iss.mech != entry.MechSSO {
		t.Fatalf("mech %q: the provider is not MFA-trusted", f.iss.mech)
	}
	// The same answer again (same cookie and state): spent.
	if w := f.callback(c, "code=good&state="+state); w.Code != http.StatusBadRequest {
		t.Fatalf("replayed callback: %d", w.Code)
	}
	// MFA-trusted provider and an MFA login: sso_mfa.
	f.dir.p.MFATrusted = true
	c, state = f.begin(t, "")
	if w := f.callback(c, "code=good&state="+state); w.Code != http.StatusFound || w.Header().Get("Location") != DefaultNext || f.iss.mech != entry.MechSSOMFA {
		t.Fatalf("mfa login: %d %s %q", w.Code, w.Header().Get("Location"), f.iss.mech)
	}
}

func TestCallbackRefusals(t *testing.T) {
	f := newFixture(t)
	c, state := f.begin(t, "/.//evil.example")
	cases := []struct {
		what   string
		cookie *http.Cookie
		query  string
		status int
		words  string
	}{
		{"no cookie", nil, "code=good&state=" + state, 400, "not started in this browser"},
		{"other state", c, "code=good&state=xyz", 400, "not started in this browser"},
		{"no state", c, "code=good", 400, "state"},
		{"repeated code", c, "code=good&code=bad&state=" + state, 400, "code"},
		{"provider error", c, "error=access_denied&error_description=no&state=" + state, 400, "access_denied"},
	}
	for _, tc := range cases {
		w := f.callback(tc.cookie, tc.query)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.words) {
			t.Errorf("%s: %d %s", tc.what, w.Code, w.Body)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: no CSP", tc.what)
		}
	}
	c, state = f.begin(t, "")
	if w := f.callback(c, "code=bad&state="+state); w.Code != 400 || !strings.Contains(w.Body.String(), "Invalid signature algorithm HS256") {
		t.Fatalf("exchange failure: %d %s", w.Code, w.Body)
	}
	// Pending approval.
	f.dir.res = Resolution{Account: &entry.Entry{UUID: "a2", Name: "bob", Disabled: true}, Created: true}
	c, state = f.begin(t, "")
	if w := f.callback(c, "code=good&state="+state); w.Code != 403 || !strings.Contains(w.Body.String(), "Pending approval") {
		t.Fatalf("pending: %d %s", w.Code, w.Body)
	}
	// SSO turned off for the account.
	f.dir.res, f.dir.allowed = Resolution{Account: &entry.Entry{UUID: "a1", Name: "alice"}}, false
	c, state = f.begin(t, "")
	if w := f.callback(c, "code=good&state="+state); w.Code != 403 || !strings.Contains(w.Body.String(), "turned off") {
		t.Fatalf("sso off: %d %s", w.Code, w.Body)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/sessions":                "/ui/sessions",
		"/ui/oauth2/authorize?id=a.b": "/ui/oauth2/authorize?id=a.b",
		"//evil.example":              "",
		"/.//evil":                    "",
		"/ui/..//evil":                "",
		"/ui/%2e%2e//evil":            "",
		"/ui\\evil":                   "",
		"https://evil.example/ui/x":   "",
		"/ui/x\n":                     "",
		"/v1/self":                    "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoginOptions(t *testing.T) {
	f := newFixture(t)
	w := f.do(httptest.NewRequest("GET", "/v1/sso/login-options", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"name":"Corp"`) || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// FuzzCallback: whatever the query and the cookie, the callback answers
// a page, never a 500.
func FuzzCallback(f *testing.F) {
	f.Add("code=good&state=x", "")
	f.Add("error=access_denied&state=%ff", "AQ")
	f.Add("code=%00&state=a&state=b", "not-base64!")
	f.Add(";;&&==", strings.Repeat("A", 5000))
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, query, cookie string) {
		req := httptest.NewRequest("GET", "/ui/sso/callback/"+provID, nil)
		req.URL.RawQuery = query
		if cookie != "" {
			req.Header.Set("Cookie", CookieFlow+"="+cookie)
		}
		w := fx.do(req)
		if w.Code >= 500 {
			t.Fatalf("query %q cookie %q: %d %s", query, cookie, w.Code, w.Body)
		}
	})
}
