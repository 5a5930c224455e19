package sso

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/go-jose/go-jose/v4/jwt"
)

// reauthFixture: alice (a1) is linked to the provider as s1, bob (a2) as
// s2; alice is signed in with the session cookie "sess-alice".
func reauthFixture(t *testing.T) (*fixture, *entry.Entry) {
	f := newFixture(t)
	alice := &entry.Entry{UUID: "a1", Name: "alice", Class: entry.Person,
		ExternalIDs: []entry.ExternalID{{Provider: provID, Subject: "s1"}}}
	bob := &entry.Entry{UUID: "a2", Name: "bob", Class: entry.Person,
		ExternalIDs: []entry.ExternalID{{Provider: provID, Subject: "s2"}}}
	f.h.Accounts = accounts{alice, bob}
	f.iss.sessions = map[string]*token.Claims{
		"sess-alice": {Claims: jwt.Claims{Subject: "a1"}, SessionID: "n1.alice", Name: "alice", Mechanism: entry.MechSSO},
		"sess-bob":   {Claims: jwt.Claims{Subject: "a2"}, SessionID: "n1.bob", Name: "bob", Mechanism: entry.MechSSO},
	}
	return f, alice
}

func sessionCookie(v string) *http.Cookie { return &http.Cookie{Name: cookieSession, Value: v} }

// beginReauth runs /ui/sso/login/{id}?reauth=1 with a session.
func (f *fixture) beginReauth(t *testing.T, session, next string) (*http.Cookie, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/ui/sso/login/"+provID+"?reauth=1&next="+url.QueryEscape(next), nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(sessionCookie(session))
	w := f.do(req)
	loc, _ := url.Parse(w.Header().Get("Location"))
	for _, k := range w.Result().Cookies() {
		if k.Name == CookieFlow && w.Code == http.StatusFound {
			return k, loc.Query().Get("state")
		}
	}
	t.Fatalf("begin reauth: %d %s", w.Code, w.Body)
	return nil, ""
}

func cookieNamed(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, k := range w.Result().Cookies() {
		if k.Name == name && k.MaxAge >= 0 {
			return k
		}
	}
	return nil
}

func TestReauthThroughALinkedProviderRefreshesTheSession(t *testing.T) {
	f, _ := reauthFixture(t)
	c, state := f.beginReauth(t, "sess-alice", "/ui/account")
	// The callback needs no session cookie (a SAML answer is a cross-site
	// POST): the session travels sealed in the flow.
	w := f.callback(c, "code=good&state="+state)
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/ui/account" {
		t.Fatalf("callback: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if s := cookieNamed(w, cookieSession); s == nil || s.Value != "rw-n1.alice" || f.iss.mech != entry.MechSSO {
		t.Fatalf("session cookie %+v, mech %q", s, f.iss.mech)
	}
}

func TestReauthRefusals(t *testing.T) {
	f, _ := reauthFixture(t)
	// The identity the provider vouches for belongs to bob: alice's
	// session is not confirmed by it.
	f.h.conns.newOIDC = func(context.Context, *entry.SSOProvider) (oidcClient, error) {
		return &fakeOIDC{ident: upstream.Identity{Subject: "s2"}}, nil
	}
	f.h.conns = connCache{newOIDC: f.h.conns.newOIDC}
	c, state := f.beginReauth(t, "sess-alice", "")
	w := f.callback(c, "code=good&state="+state)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not linked to your account alice") || cookieNamed(w, cookieSession) != nil {
		t.Fatalf("identity of another account: %d %s", w.Code, w.Body)
	}
	// An identity linked to nobody: refused the same way, nothing created.
	f.h.conns = connCache{newOIDC: func(context.Context, *entry.SSOProvider) (oidcClient, error) {
		return &fakeOIDC{ident: upstream.Identity{Subject: "s9"}}, nil
	}}
	c, state = f.beginReauth(t, "sess-alice", "")
	if w := f.callback(c, "code=good&state="+state); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not linked") {
		t.Fatalf("unlinked identity: %d %s", w.Code, w.Body)
	}
	// The browser signed in as bob in the meantime.
	f.h.conns = connCache{newOIDC: func(context.Context, *entry.SSOProvider) (oidcClient, error) {
		return &fakeOIDC{ident: upstream.Identity{Subject: "s1"}}, nil
	}}
	c, state = f.beginReauth(t, "sess-alice", "")
	req := httptest.NewRequest("GET", "/ui/sso/callback/"+provID+"?code=good&state="+state, nil)
	req.AddCookie(c)
	req.AddCookie(sessionCookie("sess-bob"))
	if w := f.do(req); w.Code != http.StatusConflict {
		t.Fatalf("another session meanwhile: %d %s", w.Code, w.Body)
	}
	// No session, or started by another site: no flow at all.
	for what, hdr := range map[string][2]string{"no session": {"same-origin", ""}, "cross-site": {"cross-site", "sess-alice"}} {
		req := httptest.NewRequest("GET", "/ui/sso/login/"+provID+"?reauth=1", nil)
		req.Header.Set("Sec-Fetch-Site", hdr[0])
		if hdr[1] != "" {
			req.AddCookie(sessionCookie(hdr[1]))
		}
		w := f.do(req)
		if w.Code < 400 || cookieNamed(w, CookieFlow) != nil {
			t.Errorf("%s: %d %v", what, w.Code, w.Header())
		}
	}
}

func TestReauthPageListsTheAccountsLinkedProviders(t *testing.T) {
	f, _ := reauthFixture(t)
	req := httptest.NewRequest("GET", "/ui/sso/reauth?next="+url.QueryEscape("/ui/account"), nil)
	req.AddCookie(sessionCookie("sess-alice"))
	w := f.do(req)
	want := `href="/ui/sso/login/` + provID + `?next=%2Fui%2Faccount&amp;reauth=1"`
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) || !strings.Contains(w.Body.String(), "Confirm with Corp") {
		t.Fatalf("page: %d %s", w.Code, w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(w.Body.String(), "<script") {
		t.Fatalf("CSP %q", csp)
	}
	// A disabled provider is not offered.
	f.dir.p.Enabled = false
	if w := f.do(req); !strings.Contains(w.Body.String(), "No identity provider linked") {
		t.Fatalf("disabled provider offered: %s", w.Body)
	}
	// Without a session: sign in first.
	if w := f.do(httptest.NewRequest("GET", "/ui/sso/reauth", nil)); w.Code != http.StatusUnauthorized {
		t.Fatalf("no session: %d", w.Code)
	}
}

func TestLDAPReauthForm(t *testing.T) {
	f := ldapFixture(t)
	alice := f.dir.res.Account
	alice.ExternalIDs = []entry.ExternalID{{Provider: provID, Subject: "uid=alice"}}
	f.iss.sessions = map[string]*token.Claims{
		"sess-alice": {Claims: jwt.Claims{Subject: alice.UUID}, SessionID: "n1.alice", Name: "alice", Mechanism: entry.MechSSOMFA},
	}
	f.iss.codes[alice.UUID+"/123456"] = true
	// The page offers a form for the LDAP provider.
	req := httptest.NewRequest("GET", "/ui/sso/reauth?next=/ui/account", nil)
	req.AddCookie(sessionCookie("sess-alice"))
	if w := f.do(req); !strings.Contains(w.Body.String(), `action="/ui/sso/reauth/ldap/`+provID+`"`) {
		t.Fatalf("no LDAP form: %s", w.Body)
	}
	post := func(form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/ui/sso/reauth/ldap/"+provID, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(sessionCookie("sess-alice"))
		return f.do(req)
	}
	form := url.Values{"username": {"alice"}, "password": {"right-password"}, "totp": {"000000"}, "next": {"/ui/account"}}
	if w := post(form); w.Code != http.StatusUnauthorized || cookieNamed(w, cookieSession) != nil {
		t.Fatalf("wrong code: %d %s", w.Code, w.Body)
	}
	form.Set("totp", "123456")
	w := post(form)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/account" || f.iss.mech != entry.MechSSOMFA {
		t.Fatalf("reauth: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if s := cookieNamed(w, cookieSession); s == nil || s.Value != "rw-n1.alice" {
		t.Fatalf("session cookie %+v", s)
	}
	form.Set("password", "wrong")
	if w := post(form); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", w.Code)
	}
}
