package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
)

// withAlice makes a person alice with a password.
func withAlice(t *testing.T, a *testAPI) string {
	t.Helper()
	const pw = "alice-long-password-42"
	a.must(t, "POST", "/v1/person", a.idm, `{"name":"alice"}`, http.StatusCreated)
	a.must(t, "POST", "/v1/person/alice/password", a.idm, `{"password":"`+pw+`"}`, http.StatusNoContent)
	return pw
}

// cookieStep sends a step carrying the cookies given.
func (a *testAPI) cookieStep(path, body, sid string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	if sid != "" {
		req.Header.Set(HeaderAuthSession, sid)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieSession {
			return c
		}
	}
	return nil
}

func TestACookieLoginKeepsTheTokenOutOfTheBody(t *testing.T) {
	a := newTestAPI(t)
	pw := withAlice(t, a)
	_, r := a.step(t, "", `{"step":{"init":"alice"},"issue":"cookie"}`)
	a.step(t, r.SessionID, `{"step":{"begin":"password"}}`)
	w, done := a.step(t, r.SessionID, `{"step":{"cred":{"password":"`+pw+`"}}}`)
	if done.State.Success == nil || *done.State.Success != "cookie" || strings.Contains(w.Body.String(), "issue") {
		t.Fatalf("a cookie login answered %s", w.Body)
	}
	c := sessionCookie(w)
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge < 3600 {
		t.Fatalf("session cookie %+v", c)
	}
	req := httptest.NewRequest("GET", "/v1/self", nil)
	req.AddCookie(c)
	self := httptest.NewRecorder()
	a.h.ServeHTTP(self, req)
	if self.Code != http.StatusOK {
		t.Fatalf("self with the session cookie: %d %s", self.Code, self.Body)
	}
}

func TestReauthOverTheAPIGrantsWrites(t *testing.T) {
	a := newTestAPI(t)
	pw := withAlice(t, a)
	a.must(t, "POST", "/v1/group/idm_admins/members", a.admin, `{"members":["alice"]}`, http.StatusOK)
	tok := *a.login(t, "alice", pw).State.Success
	w := a.do("POST", "/v1/person", tok, `{"name":"bob"}`, nil)
	if w.Code != http.StatusForbidden {
		t.Fatalf("a write with a fresh read-only session: %d %s", w.Code, w.Body)
	}
	w = a.do("POST", "/v1/reauth", tok, "", nil)
	r := decodeBody[auth.Response](t, w)
	if w.Code != http.StatusOK || len(r.State.Choose) != 1 || r.State.Choose[0] != "password" {
		t.Fatalf("reauth: %d %s", w.Code, w.Body)
	}
	a.step(t, r.SessionID, `{"step":{"begin":"password"}}`)
	_, done := a.step(t, r.SessionID, `{"step":{"cred":{"password":"`+pw+`"}}}`)
	if done.State.Success == nil {
		t.Fatalf("reauth login: %+v", done)
	}
	rw := *done.State.Success
	c, err := a.srv.Signer.Verify(rw, a.srv.Now())
	if err != nil || !c.ReadWrite(a.srv.Now()) {
		t.Fatalf("reauth token %+v %v", c, err)
	}
	a.must(t, "POST", "/v1/person", rw, `{"name":"bob"}`, http.StatusCreated)

	// Without a session there is nothing to reauthenticate.
	if w := a.do("POST", "/v1/reauth", "", "", nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("reauth without a session: %d", w.Code)
	}
	// A session in the cookie gets a refreshed cookie.
	cookie := &http.Cookie{Name: CookieSession, Value: tok}
	w = a.cookieStep("/v1/reauth", "", "", cookie)
	r = decodeBody[auth.Response](t, w)
	a.step(t, r.SessionID, `{"step":{"begin":"password"}}`)
	w, done = a.step(t, r.SessionID, `{"step":{"cred":{"password":"`+pw+`"}}}`)
	if c := sessionCookie(w); c == nil || done.State.Success == nil || *done.State.Success != "cookie" {
		t.Fatalf("reauth of a cookie session: %s %v", w.Body, c)
	}
	if c, _ := a.srv.Signer.Verify(sessionCookie(w).Value, a.srv.Now()); c == nil || !c.ReadWrite(a.srv.Now()) {
		t.Fatal("the refreshed cookie is not read-write")
	}
}
