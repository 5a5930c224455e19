package oauth2

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/go-jose/go-jose/v4/jwt"
)

// OIDC prompt and max_age: prompt=none never shows a page, prompt=login
// and max_age send an old login back to the login page, prompt=consent
// asks again although consent is remembered.
func TestPromptAndMaxAge(t *testing.T) {
	n := newTestNode(t)
	now := time.Now()
	old, err := n.w.Signer.Sign(token.Claims{Claims: jwt.Claims{Subject: aliceUUID, IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)),
		Expiry: jwt.NewNumericDate(now.Add(time.Hour))}, SessionID: "n1.old", Name: "alice", Mechanism: entry.MechPasswordMFA})
	if err != nil {
		t.Fatal(err)
	}
	// follow answers /oauth2/authorize, then the /ui/oauth2/authorize it
	// redirects to, and returns that second answer.
	follow := func(c *http.Client, extra url.Values) *http.Response {
		t.Helper()
		resp := n.mustGet(t, c, extra)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, PathUIAuth) {
			t.Fatalf("authorize %v: %d %s", extra, resp.StatusCode, loc)
		}
		resp, err := c.Get(n.srv.URL + loc)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	errOf := func(resp *http.Response) string {
		u, _ := url.Parse(resp.Header.Get("Location"))
		if !strings.HasPrefix(resp.Header.Get("Location"), redirect) {
			return "(no redirect to the app: " + resp.Header.Get("Location") + ")"
		}
		return u.Query().Get("error")
	}
	// prompt=none without a session, and with one but without consent.
	if e := errOf(follow(n.browser(false), url.Values{"prompt": {"none"}})); e != "login_required" {
		t.Fatalf("prompt=none signed out: %s", e)
	}
	if e := errOf(follow(n.browserWith(old), url.Values{"prompt": {"none"}})); e != "consent_required" {
		t.Fatalf("prompt=none without consent: %s", e)
	}
	// prompt=login and a max_age the login is older than: the login page.
	for _, extra := range []url.Values{{"prompt": {"login"}}, {"max_age": {"60"}}, {"prompt": {"select_account"}}} {
		resp := follow(n.browserWith(old), extra)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login?next=") {
			t.Fatalf("%v with an hour-old login: %d %s", extra, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// A login within max_age goes on (to the consent page here).
	resp := follow(n.browserWith(old), url.Values{"max_age": {"7200"}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Fatalf("max_age satisfied: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Malformed values are refused to the app.
	if e := errOf(n.mustGet(t, n.browserWith(old), url.Values{"prompt": {"none login"}})); e != "invalid_request" {
		t.Fatalf("prompt=none login: %s", e)
	}
	if e := errOf(n.mustGet(t, n.browserWith(old), url.Values{"max_age": {"-3"}})); e != "invalid_request" {
		t.Fatalf("negative max_age: %s", e)
	}
}

// mustGet sends one authorize request of client app with extra parameters.
func (n *testNode) mustGet(t *testing.T, c *http.Client, extra url.Values) *http.Response {
	t.Helper()
	q := url.Values{"client_id": {"app"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	resp, err := c.Get(n.srv.URL + PathAuthorize + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
