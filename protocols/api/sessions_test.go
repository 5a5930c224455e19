package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestAWriteNeedsAReadWriteSession(t *testing.T) {
	a := newTestAPI(t)
	ro := a.sessionToken(t, entry.UUIDIDMAdmin, "idm_admin", false)
	w := a.do("POST", "/v1/person", ro, `{"name":"alice","displayname":"Alice"}`, nil)
	if w.Code != http.StatusForbidden {
		t.Fatalf("write with a read-only session: %d %s", w.Code, w.Body)
	}
	if e := decodeBody[errorBody](t, w); e.Code != "reauth_required" {
		t.Fatalf("error %+v", e)
	}
	// Reads work read-only.
	if w := a.do("GET", "/v1/person", ro, "", nil); w.Code != http.StatusOK {
		t.Fatalf("read with a read-only session: %d %s", w.Code, w.Body)
	}
	if w := a.do("POST", "/v1/person", a.idm, `{"name":"alice","displayname":"Alice"}`, nil); w.Code != http.StatusCreated {
		t.Fatalf("write with a read-write session: %d %s", w.Code, w.Body)
	}
}

func TestLogoutRevokesTheSessionAndSessionsAreListed(t *testing.T) {
	a := newTestAPI(t)
	now := time.Now()
	rec := fsm.Session{ID: "test.idm_admin", Account: entry.UUIDIDMAdmin, Mechanism: "password",
		Issued: now.UnixMilli(), Expires: now.Add(time.Hour).UnixMilli(), Node: "n1"}
	if err := a.srv.Svc.RecordSession(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	w := a.do("GET", "/v1/session/idm_admin", a.idm, "", nil)
	list := decodeBody[struct {
		Sessions []sessionView `json:"sessions"`
	}](t, w)
	if w.Code != 200 || len(list.Sessions) != 1 || !list.Sessions[0].Current || list.Sessions[0].Mechanism != "password" {
		t.Fatalf("session list: %d %+v", w.Code, list)
	}
	// Someone else's sessions are not theirs to see.
	if w := a.do("GET", "/v1/session/admin", a.sessionToken(t, entry.UUIDIDMAdmin, "other", true), "", nil); w.Code != 200 {
		t.Fatalf("idm_admin reading admin's sessions: %d", w.Code)
	}
	if w := a.do("POST", "/v1/logout", a.idm, "", nil); w.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if w := a.do("GET", "/v1/self", a.idm, "", nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("a revoked session still reads: %d", w.Code)
	}
	if _, ok := a.srv.State.Session(rec.ID); ok {
		t.Fatal("the revoked session's record is still listed")
	}
	// A session revoked before its record lands stays revoked.
	if err := a.srv.Svc.RecordSession(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.srv.State.Session(rec.ID); ok || !a.srv.State.IsRevoked(rec.ID) {
		t.Fatal("a late record resurrected a revoked session")
	}
}

func TestTheCurrentSessionShowsItsWriteWindow(t *testing.T) {
	a := newTestAPI(t)
	for _, rw := range []bool{false, true} {
		w := a.do("GET", "/v1/session", a.sessionToken(t, entry.UUIDIDMAdmin, "idm_admin", rw), "", nil)
		got := decodeBody[map[string]any](t, w)
		if _, has := got["read_write_until"]; w.Code != 200 || has != rw || got["name"] != "idm_admin" {
			t.Fatalf("read-write %v: %d %v", rw, w.Code, got)
		}
	}
}

func TestARefusedSessionCookieIsClearedAndResetEndsOlderSessions(t *testing.T) {
	a := newTestAPI(t)
	w := a.do("POST", "/v1/person", a.idm, `{"name":"rita","displayname":"Rita Reset"}`, nil)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	rita, _ := a.srv.State.Entry("rita")
	old := a.sessionToken(t, rita.UUID, "rita", false)
	if w := a.do("GET", "/v1/self", old, "", nil); w.Code != 200 {
		t.Fatalf("rita before the reset: %d", w.Code)
	}
	// A reset through a token ends every session from before it.
	tok, _, err := a.srv.Svc.CreateResetToken(t.Context(), idm.Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}, "rita", 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // iat has whole seconds
	rita, _ = a.srv.State.Entry("rita")
	if _, err := a.srv.Svc.CommitCredentials(t.Context(), idm.Actor{}, rita.UUID, rita.Version,
		entry.Credentials{PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}, idm.HashResetToken(tok)); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/self", nil)
	req.AddCookie(&http.Cookie{Name: CookieSession, Value: old})
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "reset") {
		t.Fatalf("a session from before the reset: %d %s", rec.Code, rec.Body)
	}
	cleared := false
	for _, c := range rec.Result().Cookies() {
		cleared = cleared || (c.Name == CookieSession && c.MaxAge < 0)
	}
	if !cleared {
		t.Fatal("the refused session cookie was not cleared")
	}
	if w := a.do("GET", "/v1/self", a.sessionToken(t, rita.UUID, "rita", false), "", nil); w.Code != 200 {
		t.Fatalf("a session begun after the reset: %d %s", w.Code, w.Body)
	}
}

func TestKerberosPrincipalsAndDisablingThroughTheAPI(t *testing.T) {
	a := newTestAPI(t)
	if w := a.do("POST", "/v1/person", a.idm, `{"name":"kim","displayname":"Kim"}`, nil); w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w := a.do("POST", "/v1/person/kim/kerberos/principals", a.idm, `{"principal":"kim@EXAMPLE.COM"}`, nil); w.Code != 200 ||
		!strings.Contains(w.Body.String(), `"krb_principals":["kim@EXAMPLE.COM"]`) {
		t.Fatalf("add principal: %d %s", w.Code, w.Body)
	}
	if e, ok := a.srv.State.EntryByPrincipal("kim@EXAMPLE.COM"); !ok || e.Name != "kim" {
		t.Fatal("the principal does not map to kim")
	}
	a.do("POST", "/v1/person", a.idm, `{"name":"lee","displayname":"Lee"}`, nil)
	if w := a.do("POST", "/v1/person/lee/kerberos/principals", a.idm, `{"principal":"kim@EXAMPLE.COM"}`, nil); w.Code != http.StatusConflict {
		t.Fatalf("a principal taken twice: %d %s", w.Code, w.Body)
	}
	if w := a.do("POST", "/v1/person/lee/kerberos/principals", a.idm, `{"principal":"no realm"}`, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("a malformed principal: %d %s", w.Code, w.Body)
	}
	if w := a.do("DELETE", "/v1/person/kim/kerberos/principals/kim@EXAMPLE.COM", a.idm, "", nil); w.Code != 200 {
		t.Fatalf("remove: %d %s", w.Code, w.Body)
	}
	if _, ok := a.srv.State.EntryByPrincipal("kim@EXAMPLE.COM"); ok {
		t.Fatal("a removed principal still maps")
	}
	if w := a.do("PATCH", "/v1/person/kim", a.idm, `{"disabled":true}`, nil); w.Code != 200 || !strings.Contains(w.Body.String(), `"disabled":true`) {
		t.Fatalf("disable: %d %s", w.Code, w.Body)
	}
	if w := a.do("PATCH", "/v1/service_account/admin", a.admin, `{"disabled":true}`, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("disabling a built-in account: %d %s", w.Code, w.Body)
	}
}

func TestTheCallersOwnSessionIsListedBeforeItsRecordLands(t *testing.T) {
	a := newTestAPI(t)
	w := a.do("GET", "/v1/session/idm_admin", a.idm, "", nil)
	list := decodeBody[struct {
		Sessions []sessionView `json:"sessions"`
	}](t, w)
	if w.Code != 200 || len(list.Sessions) != 1 || !list.Sessions[0].Current || list.Sessions[0].ID != "test.idm_admin" {
		t.Fatalf("own session without a record: %d %+v", w.Code, list)
	}
	// Not someone else's: admin listing idm_admin's sees only records.
	w = a.do("GET", "/v1/session/idm_admin", a.admin, "", nil)
	list = decodeBody[struct {
		Sessions []sessionView `json:"sessions"`
	}](t, w)
	if w.Code != 200 || len(list.Sessions) != 0 {
		t.Fatalf("another account's unrecorded session listed: %d %+v", w.Code, list)
	}
}

// A session names the index of its account's last write; a node that has
// not applied it waits (bounded) instead of calling the account unknown.
func TestASessionWaitsForItsAccountsWrite(t *testing.T) {
	a := newTestAPI(t)
	now := time.Now()
	c := token.Claims{Claims: jwt.Claims{Subject: entry.UUIDIDMAdmin, IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(time.Hour))}, SessionID: "test.future", MinIndex: a.srv.State.AppliedIndex() + 1000}
	tok, err := a.srv.Signer.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r := httptest.NewRequestWithContext(ctx, "GET", "/v1/self", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	a.srv.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("a session from the future: %d %s (want 503: not caught up, not 401)", w.Code, w.Body)
	}
	c.MinIndex = a.srv.State.AppliedIndex()
	if tok, err = a.srv.Signer.Sign(c); err != nil {
		t.Fatal(err)
	}
	if w := a.do("GET", "/v1/self", tok, "", nil); w.Code != http.StatusOK {
		t.Fatalf("a caught-up session: %d %s", w.Code, w.Body)
	}
}
