package oauth2

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Tests of the security review (docs/oauth2.md, "Security properties").

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-longer"

// startAuth sends an authorize request and returns the continuation URL
// (/ui/oauth2/authorize?id=...), failing on anything else.
func (n *testNode) startAuth(t *testing.T, q url.Values) string {
	t.Helper()
	resp, err := n.browser(false).Get(n.srv.URL + PathAuthorize + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, PathUIAuth) {
		t.Fatalf("authorize: %d %s", resp.StatusCode, loc)
	}
	return n.srv.URL + loc
}

func authQuery(client, redir, scope, challenge string) url.Values {
	q := url.Values{"client_id": {client}, "redirect_uri": {redir}, "response_type": {"code"}, "scope": {scope}, "state": {"st"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return q
}

// codeFor runs authorize + consent as alice (cookie tok) and returns the code.
func (n *testNode) codeFor(t *testing.T, tok string, q url.Values) string {
	t.Helper()
	b := n.browserWith(tok)
	resp, err := b.Get(n.startAuth(t, q))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		id, form := hiddenID.FindSubmatch(body), hiddenForm.FindSubmatch(body)
		if id == nil || form == nil {
			t.Fatalf("consent page: %s", body)
		}
		resp, err = b.PostForm(n.srv.URL+PathUIConsent, url.Values{"id": {string(id[1])}, "form": {string(form[1])}, "decision": {"approve"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	u, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || u.Query().Get("code") == "" {
		t.Fatalf("no code: %d %s", resp.StatusCode, u)
	}
	return u.Query().Get("code")
}

// tokenReq posts form to the token endpoint (HTTP Basic when secret != "").
func (n *testNode) tokenReq(t *testing.T, id, sec string, form url.Values) (int, map[string]any) {
	t.Helper()
	return n.post(t, PathToken, id, sec, form)
}

func (n *testNode) post(t *testing.T, path, id, sec string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sec != "" {
		req.SetBasicAuth(id, sec)
	} else if id != "" && form.Get("client_id") == "" {
		form.Set("client_id", id)
		req, _ = http.NewRequest(http.MethodPost, n.srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func exchangeForm(code, redir, ver string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redir}}
	if ver != "" {
		f.Set("code_verifier", ver)
	}
	return f
}

func TestCodeSingleUseUnderConcurrency(t *testing.T) {
	n := newTestNode(t)
	code := n.codeFor(t, n.alice, authQuery("app", redirect, "openid", s256(verifier)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier))
			if st == http.StatusOK {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d exchanges of one code succeeded, want 1", wins)
	}
}

func TestCodeStoreIsBounded(t *testing.T) {
	s := codeStore{max: 10}
	now := time.Now()
	for i := range 25 {
		s.put(randomString(8), &codeGrant{expires: now.Add(CodeLife)}, now.Add(time.Duration(i)*time.Millisecond))
	}
	if c, _ := s.size(); c > 10 {
		t.Fatalf("%d codes held, bound 10", c)
	}
	// Expired codes go first.
	later := now.Add(2 * CodeLife)
	s.put("fresh", &codeGrant{expires: later.Add(CodeLife)}, later)
	if c, _ := s.size(); c != 1 {
		t.Fatalf("%d codes after expiry, want 1", c)
	}
	for i := range 25 {
		s.markUsed(randomString(8), usedCode{until: later.Add(CodeLife)}, later.Add(time.Duration(i)))
	}
	if _, u := s.size(); u > 10 {
		t.Fatalf("%d used codes held, bound 10", u)
	}
	if g, _ := s.take("fresh", later); g == nil {
		t.Fatal("the newest code was evicted")
	}
}

func TestPKCERules(t *testing.T) {
	n := newTestNode(t)
	errOf := func(q url.Values) string {
		resp, err := n.browser(true).Get(n.srv.URL + PathAuthorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		u, _ := url.Parse(resp.Header.Get("Location"))
		return u.Query().Get("error")
	}
	// An S256 challenge is exactly 43 base64url characters.
	for _, ch := range []string{strings.Repeat("a", 60), strings.Repeat("*", 43), strings.Repeat("a", 42)} {
		if e := errOf(authQuery("app", redirect, "openid", ch)); e != "invalid_request" {
			t.Errorf("challenge %q: %q, want invalid_request", ch, e)
		}
	}
	// A verifier outside RFC 7636's length or alphabet is refused even if
	// its hash matches.
	for _, v := range []string{"short", strings.Repeat("é", 30), strings.Repeat("a", 129)} {
		code := n.codeFor(t, n.alice, authQuery("app", redirect, "openid", s256(v)))
		if st, out := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, v)); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Errorf("verifier %q: %d %v", v, st, out)
		}
	}
	// The wrong verifier, and none, fail.
	code := n.codeFor(t, n.alice, authQuery("app", redirect, "openid", s256(verifier)))
	if st, _ := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier+"x")); st != http.StatusBadRequest {
		t.Errorf("wrong verifier: %d", st)
	}
	code = n.codeFor(t, n.alice, authQuery("app", redirect, "openid", s256(verifier)))
	if st, _ := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, "")); st != http.StatusBadRequest {
		t.Errorf("no verifier: %d", st)
	}
	// PKCE downgrade: a code issued without a challenge (PKCE disabled)
	// is refused when the token request carries a verifier.
	c, _ := n.w.FSM.Entry(basicUUID)
	upd := *c
	o := *c.OAuth2
	o.PKCEDisabled = true
	upd.OAuth2 = &o
	propose(t, n.w, entry.UUIDIDMAdmin, fsm.TypeEntryUpdate, fsm.EntryUpdate{Entry: &upd, ExpectedVersion: c.Version})
	code = n.codeFor(t, n.alice, authQuery("app", redirect, "openid", ""))
	if st, out := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier)); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("verifier on a code without challenge: %d %v", st, out)
	}
	code = n.codeFor(t, n.alice, authQuery("app", redirect, "openid", ""))
	if st, out := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, "")); st != http.StatusOK {
		t.Errorf("PKCE-disabled client without PKCE: %d %v", st, out)
	}
}

func s256v(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func TestRedirectURIRules(t *testing.T) {
	n := newTestNode(t)
	page := func(client, redir string) {
		t.Helper()
		resp, err := n.browser(true).Get(n.srv.URL + PathAuthorize + "?" + authQuery(client, redir, "openid", s256v(verifier)).Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s %s: %d %s, want the error page", client, redir, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	page("app", redirect+"/")                                                               // not exact
	page("app", "https://app.example.com/cb?x=1")                                           // not exact
	page("app", "http://127.0.0.1:8080/cb")                                                 // loopback is for public clients only
	page("cli", "http://evil@127.0.0.1:8080/cb")                                            // userinfo
	page("cli", "http://127.0.0.1:8080/other")                                              // other path
	page("cli", "http://127.0.0.1.evil.example:80/cb")                                      // not loopback
	page("nobody", redirect)                                                                // unknown client
	page("app", "")                                                                         // none
	n.startAuth(t, authQuery("cli", "http://127.0.0.1:8080/cb", "openid", s256v(verifier))) // any port: fine
}

func TestClientAuthentication(t *testing.T) {
	n := newTestNode(t)
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	if st, out := n.tokenReq(t, "app", "wrong", cc); st != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", st, out)
	}
	if st, out := n.tokenReq(t, "cli", "", cc); st/100 != 4 || st == http.StatusOK {
		t.Errorf("public client credentials: %d %v", st, out)
	}
	if st, _ := n.post(t, PathIntrospect, "app", "wrong", url.Values{"token": {"x"}}); st != http.StatusUnauthorized {
		t.Errorf("introspection with a wrong secret: %d, want 401", st)
	}
	// No Authorization header: 400 is what RFC 6749 §5.2 allows.
	if st, out := n.post(t, PathIntrospect, "cli", "", url.Values{"token": {"x"}}); st/100 != 4 || out["error"] != "invalid_client" {
		t.Errorf("introspection by a public client: %d %v", st, out)
	}
	// An oversized body is a 400, not a 500, and is not read whole.
	big := url.Values{"grant_type": {"client_credentials"}, "pad": {strings.Repeat("a", MaxRequestBody)}}
	if st, _ := n.tokenReq(t, "app", secret, big); st != http.StatusBadRequest {
		t.Errorf("oversized token request: %d", st)
	}
}

// introspectAs introspects as client id/secret.
func (n *testNode) introspectAs(t *testing.T, id, sec, tok string) map[string]any {
	_, out := n.post(t, PathIntrospect, id, sec, url.Values{"token": {tok}})
	return out
}

func (n *testNode) userinfo(t *testing.T, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.srv.URL+PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTokenSeparationAndLogout(t *testing.T) {
	n := newTestNode(t)
	sess := n.session(t, "n1.other")
	code := n.codeFor(t, sess, authQuery("app", redirect, "openid profile", s256v(verifier)))
	st, out := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier))
	if st != http.StatusOK {
		t.Fatalf("exchange: %d %v", st, out)
	}
	at, idt := out["access_token"].(string), out["id_token"].(string)
	if n.userinfo(t, at) != http.StatusOK {
		t.Fatal("userinfo refused the access token")
	}
	// A session token and an ID token are not access tokens.
	if st := n.userinfo(t, sess); st != http.StatusUnauthorized {
		t.Errorf("a session token at userinfo: %d", st)
	}
	if st := n.userinfo(t, idt); st != http.StatusUnauthorized {
		t.Errorf("an ID token at userinfo: %d", st)
	}
	if in := n.introspectAs(t, "app", secret, sess); in["active"] != false {
		t.Errorf("a session token introspected: %v", in)
	}
	// An access token or ID token is not a session at the API.
	for name, tok := range map[string]string{"access": at, "id": idt} {
		req, _ := http.NewRequest(http.MethodGet, n.srv.URL+"/v1/self", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := n.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s token as an API session: %d", name, resp.StatusCode)
		}
	}
	// Another client cannot introspect it.
	if in := n.introspectAs(t, "legacy", secret, at); in["active"] != false {
		t.Errorf("another client introspected the token: %v", in)
	}
	// Logging out of the login session kills tokens issued without
	// offline_access, at userinfo and introspection.
	propose(t, n.w, "", fsm.TypeSessionRevoke, fsm.SessionRevoke{ID: "n1.other", Account: aliceUUID, Expires: time.Now().Add(8 * time.Hour).UnixMilli()})
	if st := n.userinfo(t, at); st != http.StatusUnauthorized {
		t.Errorf("userinfo after the login session was revoked: %d", st)
	}
	if in := n.introspectAs(t, "app", secret, at); in["active"] != false {
		t.Errorf("introspection after the login session was revoked: %v", in)
	}
}

func TestDisabledAccountIsInactive(t *testing.T) {
	n := newTestNode(t)
	code := n.codeFor(t, n.alice, authQuery("app", redirect, "openid offline_access", s256v(verifier)))
	_, out := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier))
	at, rt := out["access_token"].(string), out["refresh_token"].(string)
	a, _ := n.w.FSM.Entry(aliceUUID)
	upd := *a
	upd.Disabled = true
	propose(t, n.w, entry.UUIDIDMAdmin, fsm.TypeEntryUpdate, fsm.EntryUpdate{Entry: &upd, ExpectedVersion: a.Version})
	for _, tok := range []string{at, rt} {
		if in := n.introspectAs(t, "app", secret, tok); in["active"] != false {
			t.Errorf("a disabled account's token introspected active: %v", in)
		}
	}
	if st := n.userinfo(t, at); st != http.StatusUnauthorized {
		t.Errorf("userinfo for a disabled account: %d", st)
	}
}

func TestConsentIsBoundAndRemembered(t *testing.T) {
	n := newTestNode(t)
	cont := n.startAuth(t, authQuery("app", redirect, "openid profile", s256v(verifier)))
	resp, err := n.browser(true).Get(cont)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id, form := hiddenID.FindSubmatch(body), hiddenForm.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || id == nil || form == nil {
		t.Fatalf("consent page: %d %s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com;") {
		t.Errorf("the consent page's form cannot reach the client: %s", csp)
	}
	post := func(b *http.Client, v url.Values) *http.Response {
		resp, err := b.PostForm(n.srv.URL+PathUIConsent, v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Without the form token, with another session's browser, or with the
	// token of another auth request: refused, no code.
	other := n.startAuth(t, authQuery("app", redirect, "openid", s256v(verifier)))
	otherID, _ := url.Parse(other)
	for name, c := range map[string]struct {
		b *http.Client
		v url.Values
	}{
		"no token":      {n.browser(true), url.Values{"id": {string(id[1])}, "decision": {"approve"}}},
		"other session": {n.browserWith(n.session(t, "n1.mallory")), url.Values{"id": {string(id[1])}, "form": {string(form[1])}, "decision": {"approve"}}},
		"other request": {n.browser(true), url.Values{"id": {otherID.Query().Get("id")}, "form": {string(form[1])}, "decision": {"approve"}}},
	} {
		if r := post(c.b, c.v); r.StatusCode != http.StatusForbidden || r.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s", name, r.StatusCode, r.Header.Get("Location"))
		}
	}
	if _, ok := n.w.FSM.OAuth2ConsentOf(aliceUUID, basicUUID); ok {
		t.Fatal("a refused form recorded consent")
	}
	if r := post(n.browser(true), url.Values{"id": {string(id[1])}, "form": {string(form[1])}, "decision": {"approve"}}); r.StatusCode != http.StatusFound {
		t.Fatalf("bound consent: %d", r.StatusCode)
	}
	// Remembered: the same or fewer scopes skip the page; a new one asks.
	for scope, want := range map[string]int{"openid profile": http.StatusFound, "openid": http.StatusFound, "openid email": http.StatusOK} {
		resp, err := n.browser(true).Get(n.startAuth(t, authQuery("app", redirect, scope, s256v(verifier))))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("scope %q after consent: %d, want %d", scope, resp.StatusCode, want)
		}
	}
}

func TestRefreshReuseRevokesFamilyEverywhere(t *testing.T) {
	n := newTestNode(t)
	code := n.codeFor(t, n.alice, authQuery("app", redirect, "openid offline_access", s256v(verifier)))
	_, out := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier))
	rt1 := out["refresh_token"].(string)
	st, out2 := n.tokenReq(t, "app", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	if st != http.StatusOK {
		t.Fatalf("refresh: %d %v", st, out2)
	}
	at2, rt2 := out2["access_token"].(string), out2["refresh_token"].(string)
	// Another client cannot use it.
	if st, _ := n.tokenReq(t, "legacy", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}); st != http.StatusBadRequest {
		t.Errorf("refresh by another client: %d", st)
	}
	if st, out := n.tokenReq(t, "app", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", st, out)
	}
	fam, _ := n.w.FSM.OAuth2FamilyOf(jwtClaim(t, at2, SessionClaim))
	if !fam.Revoked {
		t.Error("the family is not marked revoked in the replicated state")
	}
	if st := n.userinfo(t, at2); st != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked family's token: %d", st)
	}
	if in := n.introspectAs(t, "app", secret, at2); in["active"] != false {
		t.Errorf("introspection of a revoked family's token: %v", in)
	}
	if st, _ := n.tokenReq(t, "app", secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}); st != http.StatusBadRequest {
		t.Errorf("the newest refresh token of a revoked family: %d", st)
	}
}

func jwtClaim(t *testing.T, raw, claim string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(b, &m)
	s, _ := m[claim].(string)
	return s
}

var _ = context.Background

func TestCodeOwnerWithDottedNodeID(t *testing.T) {
	for code, want := range map[string]string{"n1.abc": "n1", "node2.example.com.Xy_-z": "node2.example.com", ".abc": "", "n1.": "", "abc": ""} {
		got, ok := codeOwner(code)
		if got != want || ok != (want != "") {
			t.Errorf("codeOwner(%q) = %q %v, want %q", code, got, ok, want)
		}
	}
}
