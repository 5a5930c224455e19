package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/idmtest"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/go-jose/go-jose/v4/jwt"
)

// oneNode answers the cluster questions of a single initialised node.
type oneNode struct{}

func (oneNode) HasState() bool               { return true }
func (oneNode) Leader() (id, apiAddr string) { return "n1", "https://localhost" }

// A single node that is its own leader has applied everything committed.
func (oneNode) ConsistentIndex(context.Context) (uint64, error) { return 0, nil }

// testAPI is an api.Server over a real FSM in a temp dir.
type testAPI struct {
	srv   *Server
	h     http.Handler
	w     *idmtest.World
	admin string // session token of admin (system_admins)
	idm   string // session token of idm_admin
}

const testIssuer = idmtest.Issuer

func newTestAPI(t testing.TB) *testAPI {
	t.Helper()
	w := idmtest.New(t, nil)
	log := slog.New(slog.DiscardHandler)
	s := &Server{Svc: w.Svc, Signer: w.Signer, State: w.FSM, Cluster: oneNode{}, NodeID: "n1", Log: log, Now: time.Now}
	s.Auth = &auth.Engine{State: w.FSM, Hasher: w.Hasher, Signer: w.Signer, NodeID: "n1", Now: time.Now}
	a := &testAPI{srv: s, h: s.Handler(), w: w}
	a.admin = a.token(t, entry.UUIDAdmin, "admin")
	a.idm = a.token(t, entry.UUIDIDMAdmin, "idm_admin")
	return a
}

// token signs a read-write session token for uuid, as a login followed by
// a reauthentication would.
func (a *testAPI) token(t testing.TB, uuid, name string) string {
	return a.sessionToken(t, uuid, name, true)
}

// sessionToken signs a session token, read-write or read-only.
func (a *testAPI) sessionToken(t testing.TB, uuid, name string, rw bool) string {
	t.Helper()
	now := time.Now()
	c := token.Claims{Claims: jwt.Claims{Subject: uuid, IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(time.Hour))}, SessionID: "test." + name, Name: name}
	if rw {
		c.RWUntil = now.Add(10 * time.Minute).Unix()
	}
	tok, err := a.srv.Signer.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// do serves one request in process.
func (a *testAPI) do(method, path, tok, body string, hdr map[string]string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.RemoteAddr = "127.0.0.1:1234"
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

func decodeBody[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	return v
}

// step sends one auth step; sid "" sends none.
func (a *testAPI) step(t testing.TB, sid, body string) (*httptest.ResponseRecorder, auth.Response) {
	t.Helper()
	hdr := map[string]string{}
	if sid != "" {
		hdr[HeaderAuthSession] = sid
	}
	w := a.do("POST", "/v1/auth", "", body, hdr)
	if w.Code != http.StatusOK {
		return w, auth.Response{}
	}
	return w, decodeBody[auth.Response](t, w)
}

// login runs init, begin and cred, and returns the final response.
func (a *testAPI) login(t testing.TB, name, pw string) auth.Response {
	t.Helper()
	_, r := a.step(t, "", `{"step":{"init":`+jsonString(name)+`}}`)
	if len(r.State.Choose) != 1 || r.State.Choose[0] != "password" || r.SessionID == "" {
		t.Fatalf("init %s: %+v", name, r)
	}
	_, r2 := a.step(t, r.SessionID, `{"step":{"begin":"password"}}`)
	if len(r2.State.Continue) != 1 {
		t.Fatalf("begin: %+v", r2)
	}
	w, r3 := a.step(t, r.SessionID, `{"step":{"cred":{"password":`+jsonString(pw)+`}}}`)
	if w.Code != http.StatusOK {
		t.Fatalf("cred: %d %s", w.Code, w.Body)
	}
	return r3
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestAStepWithoutASessionIsRefusedAsInvalidState(t *testing.T) {
	a := newTestAPI(t)
	for _, body := range []string{`{"step":{"begin":"password"}}`, `{"step":{"cred":{"password":"whatever-it-is"}}}`} {
		w, _ := a.step(t, "", body)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "invalid state") {
			t.Errorf("%s without a session: %d %s", body, w.Code, w.Body)
		}
		w, _ = a.step(t, "n1.not-a-session", body)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "invalid state") {
			t.Errorf("%s with an unknown session: %d %s", body, w.Code, w.Body)
		}
	}
	// Out of order: a credential before choosing a mechanism.
	_, r := a.step(t, "", `{"step":{"init":"idm_admin"}}`)
	w, _ := a.step(t, r.SessionID, `{"step":{"cred":{"password":"0123456789"}}}`)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "invalid state") {
		t.Errorf("cred before begin: %d %s", w.Code, w.Body)
	}
	// Two steps at once, or none.
	for _, body := range []string{`{"step":{"init":"a","begin":"password"}}`, `{"step":{}}`} {
		w, _ := a.step(t, r.SessionID, body)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", body, w.Code, w.Body)
		}
	}
}

func TestUnknownAccountAndWrongPasswordGetTheSameDenial(t *testing.T) {
	a := newTestAPI(t)
	if w := a.do("POST", "/v1/person", a.idm, `{"name":"alice"}`, nil); w.Code != http.StatusCreated {
		t.Fatalf("create alice: %d %s", w.Code, w.Body)
	}
	const pw = "alice-long-password-42"
	if w := a.do("POST", "/v1/person/alice/password", a.idm, `{"password":"`+pw+`"}`, nil); w.Code != http.StatusNoContent {
		t.Fatalf("set password: %d %s", w.Code, w.Body)
	}
	wrong := a.login(t, "alice", "not-her-password")
	unknown := a.login(t, "nobody-at-all", "not-her-password")
	group := a.login(t, "idm_admins", "not-her-password")
	if wrong.State.Denied == nil || unknown.State.Denied == nil || group.State.Denied == nil {
		t.Fatalf("denials: %+v %+v %+v", wrong, unknown, group)
	}
	if *wrong.State.Denied != *unknown.State.Denied || *wrong.State.Denied != *group.State.Denied {
		t.Errorf("the denial tells accounts apart: %q vs %q vs %q", *wrong.State.Denied, *unknown.State.Denied, *group.State.Denied)
	}
	ok := a.login(t, "alice@example.com", pw)
	if ok.State.Success == nil {
		t.Fatalf("login with the right password: %+v", ok)
	}
	w := a.do("GET", "/v1/self", *ok.State.Success, "", nil)
	if self := decodeBody[EntryView](t, w); w.Code != 200 || self.Name != "alice" {
		t.Errorf("self with the new token: %d %s", w.Code, w.Body)
	}
	// A finished login cannot be continued.
	w, _ = a.step(t, ok.SessionID, `{"step":{"cred":{"password":"`+pw+`"}}}`)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("a step after success: %d %s", w.Code, w.Body)
	}
}

func TestTheAuthSessionTravelsInAStrictSecureCookie(t *testing.T) {
	a := newTestAPI(t)
	w, r := a.step(t, "", `{"step":{"init":"idm_admin"}}`)
	if w.Header().Get(HeaderAuthSession) != r.SessionID {
		t.Errorf("header %q, body %q", w.Header().Get(HeaderAuthSession), r.SessionID)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != CookieAuthSession || cookies[0].Value != r.SessionID ||
		!cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie: %+v", cookies)
	}
	// The cookie alone carries the session to the next step.
	req := httptest.NewRequest("POST", "/v1/auth", strings.NewReader(`{"step":{"begin":"password"}}`))
	req.AddCookie(cookies[0])
	w2 := httptest.NewRecorder()
	a.h.ServeHTTP(w2, req)
	// With a cookie, the body must be declared JSON (a cross-site
	// text/plain form could otherwise ride on the cookie).
	if w2.Code != http.StatusUnsupportedMediaType {
		t.Errorf("a cookie step without Content-Type: %d %s", w2.Code, w2.Body)
	}
	req = httptest.NewRequest("POST", "/v1/auth", strings.NewReader(`{"step":{"begin":"password"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(cookies[0])
	w2 = httptest.NewRecorder()
	a.h.ServeHTTP(w2, req)
	if w2.Code != http.StatusOK || !strings.Contains(w2.Body.String(), `"continue"`) {
		t.Errorf("begin with the cookie only: %d %s", w2.Code, w2.Body)
	}
}

func TestAWriteAnswersWithItsIndexAndAReadCanWaitForIt(t *testing.T) {
	a := newTestAPI(t)
	w := a.do("POST", "/v1/group", a.idm, `{"name":"devs","description":"d"}`, nil)
	if w.Code != http.StatusCreated || w.Header().Get(HeaderIndex) == "" {
		t.Fatalf("create: %d %q %s", w.Code, w.Header().Get(HeaderIndex), w.Body)
	}
	r := a.do("GET", "/v1/group/devs", a.idm, "", map[string]string{HeaderMinIndex: w.Header().Get(HeaderIndex)})
	if r.Code != http.StatusOK {
		t.Errorf("read at the write's index: %d %s", r.Code, r.Body)
	}
	if r := a.do("GET", "/v1/group/devs", a.idm, "", map[string]string{HeaderMinIndex: "x"}); r.Code != http.StatusBadRequest {
		t.Errorf("bad min index: %d %s", r.Code, r.Body)
	}
}

func TestIDMAdminCannotReachAnAccountInsideSystemAdmins(t *testing.T) {
	a := newTestAPI(t)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/person", `{"name":"ops"}`},
		{"POST", "/v1/group", `{"name":"opsteam"}`},
		{"POST", "/v1/group/system_admins/members", `{"members":["ops","opsteam"]}`},
	} {
		if w := a.do(c.method, c.path, a.admin, c.body, nil); w.Code >= 300 {
			t.Fatalf("admin %s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/person/ops/password", `{"password":"idm-admin-takes-over"}`},
		{"PATCH", "/v1/person/ops", `{"displayname":"mine now"}`},
		{"DELETE", "/v1/person/ops", ``},
		{"POST", "/v1/group/opsteam/members", `{"members":["idm_admin"]}`},
	} {
		if w := a.do(c.method, c.path, a.idm, c.body, nil); w.Code != http.StatusForbidden {
			t.Errorf("idm_admin %s %s: want 403, got %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	if w := a.do("POST", "/v1/person/ops/password", a.admin, `{"password":"admin-sets-this-one"}`, nil); w.Code != http.StatusNoContent {
		t.Errorf("admin sets ops' password: %d %s", w.Code, w.Body)
	}
}
