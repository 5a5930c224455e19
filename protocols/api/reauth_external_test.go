package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/protocols/spnego/spnegotest"
)

// kerberosSession logs name in through SPNEGO and returns its token.
func kerberosSession(t *testing.T, a *testAPI, o spnegotest.Options) (string, *token.Claims) {
	t.Helper()
	w := a.do("GET", "/v1/auth/spnego", "", "", map[string]string{"Authorization": negotiateHeader(t, o)})
	if w.Code != http.StatusOK {
		t.Fatalf("kerberos login: %d %s", w.Code, w.Body)
	}
	tok := decodeBody[spnegoBody](t, w).Token
	c, err := a.srv.Signer.Verify(tok, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok, c
}

// reauthSPNEGO sends GET /v1/auth/spnego?reauth=1 with the session as a
// Bearer value beside Negotiate, or as the cookie.
func reauthSPNEGO(a *testAPI, query, negotiate, bearer, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/v1/auth/spnego?reauth=1"+query, nil)
	req.RemoteAddr = "127.0.0.1:1234"
	if negotiate != "" {
		req.Header.Add("Authorization", negotiate)
	}
	if bearer != "" {
		req.Header.Add("Authorization", "Bearer "+bearer)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: CookieSession, Value: cookie})
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

func TestReauthOfAnExternalSessionSaysWhereToConfirm(t *testing.T) {
	a, _ := spnegoAPI(t)
	krb, _ := kerberosSession(t, a, spnegotest.Options{CName: "alice"})
	w := a.do("POST", "/v1/reauth", krb, "", nil)
	b := decodeBody[reauthExternalBody](t, w)
	if w.Code != http.StatusForbidden || b.Code != codeReauthExternal || b.ReauthURL != "/v1/auth/spnego?reauth=1" || !strings.Contains(b.Error, "confirm with Kerberos") {
		t.Fatalf("kerberos: %d %+v", w.Code, b)
	}
	alice, _ := a.w.FSM.Entry("alice")
	ctx := context.Background()
	ssoTok, _, err := a.srv.Auth.IssueExternal(ctx, alice, entry.MechSSO, "")
	if err != nil {
		t.Fatal(err)
	}
	w = a.do("POST", "/v1/reauth?next=/ui/credentials", ssoTok, "", nil)
	b = decodeBody[reauthExternalBody](t, w)
	if w.Code != http.StatusForbidden || b.Code != codeReauthExternal || b.ReauthURL != "/ui/sso/reauth?next=%2Fui%2Fcredentials" ||
		!strings.Contains(b.Error, "confirm your sign-in through your identity provider") {
		t.Fatalf("sso: %d %+v", w.Code, b)
	}
	// A next outside the pages is not echoed.
	w = a.do("POST", "/v1/reauth?next=//evil.example/ui/", ssoTok, "", nil)
	if b = decodeBody[reauthExternalBody](t, w); b.ReauthURL != "/ui/sso/reauth?next=%2Fui%2Faccount" {
		t.Fatalf("sso, foreign next: %+v", b)
	}
	// Other errors keep the one error shape: no reauth_url.
	w = a.do("POST", "/v1/person", ssoTok, `{"name":"x"}`, map[string]string{"Content-Type": "application/json"})
	if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "reauth_url") {
		t.Fatalf("read-only write: %d %s", w.Code, w.Body)
	}
}

func TestKerberosReauthGivesTheSameSessionAWriteWindow(t *testing.T) {
	a, _ := spnegoAPI(t)
	tok, first := kerberosSession(t, a, spnegotest.Options{CName: "alice"})
	neg := negotiateHeader(t, spnegotest.Options{CName: "alice"})
	// Without a session there is nothing to reauthenticate.
	if w := reauthSPNEGO(a, "", neg, "", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("no session: %d %s", w.Code, w.Body)
	}
	// Bearer beside Negotiate: the token comes back in the body.
	w := reauthSPNEGO(a, "", neg, tok, "")
	if w.Code != http.StatusOK {
		t.Fatalf("reauth: %d %s", w.Code, w.Body)
	}
	b := decodeBody[spnegoBody](t, w)
	c, err := a.srv.Signer.Verify(b.Token, time.Now())
	if err != nil || c.SessionID != first.SessionID || !c.Expiry.Time().Equal(first.Expiry.Time()) || !c.ReadWrite(time.Now()) {
		t.Fatalf("reauthenticated %+v (first %+v): %v", c, first, err)
	}
	// The refreshed token writes.
	if w := a.do("POST", "/v1/person", b.Token, `{"name":"newbie"}`, map[string]string{"Content-Type": "application/json"}); w.Code >= 300 && w.Code != http.StatusForbidden {
		t.Fatalf("write after reauth: %d %s", w.Code, w.Body)
	} else if w.Code == http.StatusForbidden && strings.Contains(w.Body.String(), "reauth_required") {
		t.Fatalf("still read-only after reauth: %s", w.Body)
	}
	// A session in the cookie gets its cookie refreshed; no token in the body.
	w = reauthSPNEGO(a, "", negotiateHeader(t, spnegotest.Options{CName: "alice"}), "", tok)
	var sess *http.Cookie
	for _, k := range w.Result().Cookies() {
		if k.Name == CookieSession {
			sess = k
		}
	}
	if w.Code != http.StatusOK || sess == nil || decodeBody[spnegoBody](t, w).Token != "" {
		t.Fatalf("cookie reauth: %d %s %v", w.Code, w.Body, w.Header())
	}
	if c, err := a.srv.Signer.Verify(sess.Value, time.Now()); err != nil || c.SessionID != first.SessionID || !c.ReadWrite(time.Now()) {
		t.Fatalf("cookie claims %+v: %v", c, err)
	}
	// Another principal's ticket does not confirm alice's session.
	w = reauthSPNEGO(a, "", negotiateHeader(t, spnegotest.Options{CName: "dave"}), tok, "")
	if w.Code != http.StatusForbidden || decodeBody[errorBody](t, w).Code != "reauth_other_account" {
		t.Fatalf("other principal: %d %s", w.Code, w.Body)
	}
	// The first leg of a reauth with a session is the usual challenge.
	if w := reauthSPNEGO(a, "", "", tok, ""); w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Negotiate" {
		t.Fatalf("challenge: %d %v", w.Code, w.Header())
	}
}
