package sso

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/ldapup"
)

// Linking adds a way into the signed-in account: another site must not be
// able to start it (with the attacker's session planted at the IdP, the
// attacker's identity would be linked to the victim's account).
func TestLinkRefusedCrossSite(t *testing.T) {
	f := newFixture(t)
	f.h.SessionAccount = func(*http.Request) (string, bool) { return "a1", true }
	for site, want := range map[string]int{
		"cross-site": http.StatusForbidden, "same-site": http.StatusForbidden,
		"same-origin": http.StatusFound, "none": http.StatusFound, "": http.StatusFound,
	} {
		req := httptest.NewRequest("GET", "/ui/sso/login/"+provID+"?link=1", nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		if w := f.do(req); w.Code != want {
			t.Errorf("link with Sec-Fetch-Site %q: %d, want %d: %s", site, w.Code, want, w.Body)
		}
	}
	// A plain login may be started from anywhere (the login page of
	// another site of ours, a bookmark): it adds nothing to an account.
	req := httptest.NewRequest("GET", "/ui/sso/login/"+provID, nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if w := f.do(req); w.Code != http.StatusFound {
		t.Fatalf("cross-site login begin: %d", w.Code)
	}
}

// ldapFixture is the fixture with an LDAP provider whose directory knows
// alice / right-password.
func ldapFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.dir.p.Type = entry.SSOTypeLDAP
	f.dir.res.Account.TOTP = []entry.TOTP{{ID: "t1", Digits: 6, Period: 30}}
	f.h.Accounts = accounts{f.dir.res.Account}
	f.h.conns.ldap = func(_ context.Context, _ *entry.SSOProvider, user, pass string) (upstream.Identity, error) {
		switch {
		case strings.EqualFold(strings.TrimSpace(user), "alice") && pass == "right-password":
			return upstream.Identity{Subject: "uid=alice"}, nil
		case user == "broken":
			return upstream.Identity{}, errors.New("service bind cn=svc-gatehouse,ou=Service Accounts,dc=corp: LDAP Result Code 49")
		}
		return upstream.Identity{}, ldapup.ErrInvalidCredentials
	}
	f.iss.codes = map[string]bool{}
	return f
}

type accounts []*entry.Entry

func (a accounts) EntryByExternalID(provider, subject string) (*entry.Entry, bool) {
	for _, e := range a {
		for _, x := range e.ExternalIDs {
			if x.Provider == provider && x.Subject == subject {
				return e, true
			}
		}
	}
	return nil, false
}

func (a accounts) Entry(id string) (*entry.Entry, bool) {
	for _, e := range a {
		if e.UUID == id {
			return e, true
		}
	}
	return nil, false
}

func (f *fixture) post(t *testing.T, path string, body any) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	w := f.do(httptest.NewRequest("POST", path, strings.NewReader(string(b))))
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w, out
}

// The soft lock counts guesses per directory name; directories compare
// names without case, so case variants must share one count.
func TestLDAPLockFoldsCase(t *testing.T) {
	f := ldapFixture(t)
	path := "/v1/sso/ldap/" + provID
	for _, u := range []string{"alice", "Alice", "ALICE"} {
		if w, _ := f.post(t, path, map[string]string{"username": u, "password": "wrong"}); w.Code != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s", u, w.Code, w.Body)
		}
	}
	if w, _ := f.post(t, path, map[string]string{"username": "aLiCe ", "password": "wrong"}); w.Code != http.StatusTooManyRequests {
		t.Fatalf("a fourth guess under another spelling: %d %s, want 429", w.Code, w.Body)
	}
}

// Unknown user and wrong password answer the same; a directory failure
// does not show the directory's details to whoever is guessing.
func TestLDAPErrorsRevealNothing(t *testing.T) {
	f := ldapFixture(t)
	path := "/v1/sso/ldap/" + provID
	_, a := f.post(t, path, map[string]string{"username": "alice", "password": "wrong"})
	_, b := f.post(t, path, map[string]string{"username": "nobody", "password": "wrong"})
	if a["error"] != "Invalid credentials" || a["error"] != b["error"] || a["code"] != b["code"] {
		t.Fatalf("wrong password %v vs unknown user %v", a, b)
	}
	w, _ := f.post(t, path, map[string]string{"username": "broken", "password": "x"})
	if w.Code != http.StatusBadGateway || strings.Contains(w.Body.String(), "svc-gatehouse") || strings.Contains(w.Body.String(), "dc=corp") {
		t.Fatalf("directory failure: %d %s", w.Code, w.Body)
	}
}

// The second factor cannot be skipped or replayed: the handle is needed,
// is bound to its provider, expires, and is spent by the first success.
func TestLDAPSecondFactor(t *testing.T) {
	f := ldapFixture(t)
	path := "/v1/sso/ldap/" + provID
	w, out := f.post(t, path, map[string]string{"username": "alice", "password": "right-password"})
	handle, _ := out["handle"].(string)
	if w.Code != http.StatusOK || out["continue"] != "totp" || handle == "" || out["token"] != nil {
		t.Fatalf("bind: %d %s", w.Code, w.Body)
	}
	mfa := path + "/mfa"
	if w, _ := f.post(t, mfa, map[string]string{"handle": handle, "totp": "111111"}); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d %s", w.Code, w.Body)
	}
	if w, _ := f.post(t, mfa, map[string]string{"handle": handle[:len(handle)-2] + "AA", "totp": "111111"}); w.Code != http.StatusBadRequest {
		t.Fatalf("damaged handle: %d %s", w.Code, w.Body)
	}
	f.iss.codes["a1/123456"], f.iss.codes["a1/654321"] = true, true
	w, out = f.post(t, mfa, map[string]string{"handle": handle, "totp": "123456"})
	if w.Code != http.StatusOK || out["token"] != "tok-alice" || f.iss.mech != entry.MechSSOMFA {
		t.Fatalf("code: %d %s mech %q", w.Code, w.Body, f.iss.mech)
	}
	// The handle is spent, even with another valid code.
	if w, _ := f.post(t, mfa, map[string]string{"handle": handle, "totp": "654321"}); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "already") {
		t.Fatalf("spent handle: %d %s", w.Code, w.Body)
	}
	// Expired.
	_, out = f.post(t, path, map[string]string{"username": "alice", "password": "right-password"})
	handle, _ = out["handle"].(string)
	f.h.Now = func() time.Time { return time.Now().Add(ldapHandleTTL + time.Minute) }
	if w, _ := f.post(t, mfa, map[string]string{"handle": handle, "totp": "654321"}); w.Code != http.StatusBadRequest {
		t.Fatalf("expired handle: %d %s", w.Code, w.Body)
	}
	f.h.Now = nil
	// Another provider's route does not take it (the fixture has one
	// provider: the path names an unknown one).
	if w, _ := f.post(t, "/v1/sso/ldap/other/mfa", map[string]string{"handle": handle, "totp": "654321"}); w.Code != http.StatusNotFound {
		t.Fatalf("other provider: %d %s", w.Code, w.Body)
	}
	// An account without TOTP never gets a handle.
	f.dir.res.Account.TOTP = nil
	if w, out := f.post(t, path, map[string]string{"username": "alice", "password": "right-password"}); w.Code != http.StatusForbidden || out["handle"] != nil {
		t.Fatalf("no second factor: %d %s", w.Code, w.Body)
	}
}
