package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gspnego "github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup/oidcuptest"
)

// reauthAnswer is POST /v1/reauth's refusal for an external session.
type reauthAnswer struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	ReauthURL string `json:"reauth_url"`
}

// TestSSOReauth: a person who only ever signed in through upstream
// providers (created at the first login) cannot reauthenticate through
// /v1/auth; /v1/reauth says reauth_external and where to go, the login
// through a linked provider with ?reauth=1 (the callback on another node
// than the begin, round robin) gives the same session a write window,
// and she unlinks one of her two identities herself. A provider identity
// linked to another account does not confirm her session.
func TestSSOReauth(t *testing.T) {
	corp := oidcuptest.New(t, oidcuptest.Options{ClientSecret: "reauth-corp-secret-1",
		User: oidcuptest.User{Sub: "corp-sam", PreferredUsername: "sam"}})
	hub := oidcuptest.New(t, oidcuptest.Options{ClientSecret: "reauth-hub-secret-2",
		User: oidcuptest.User{Sub: "hub-olga", PreferredUsername: "olga"}})
	e := startSSO(t, corp.CertPEM(), hub.CertPEM())
	corpID := e.createProvider(map[string]any{"name": "Corp", "type": "oidc", "enabled": true, "auto_enable": true,
		"client_id": "client", "client_secret": "reauth-corp-secret-1", "discovery_url": corp.URL()})
	hubID := e.createProvider(map[string]any{"name": "Hub", "type": "oidc", "enabled": true, "auto_enable": true,
		"client_id": "client", "client_secret": "reauth-hub-secret-2", "discovery_url": hub.URL()})
	begin := func(id, query string) string { return "https://localhost/ui/sso/login/" + id + query }

	// olga: created at her first login through Hub (hub-olga).
	olga := e.browser()
	if st, body := olga.get(begin(hubID, "")); st != http.StatusOK {
		t.Fatalf("olga's first login: %d %s legs %+v", st, body, olga.legs)
	}
	// sam: created through Corp, then links his own Hub identity.
	sam := e.browser()
	if st, body := sam.get(begin(corpID, "")); st != http.StatusOK {
		t.Fatalf("sam's first login: %d %s legs %+v", st, body, sam.legs)
	}
	if name, mech, ok := sam.session(); !ok || name != "sam" || mech != "sso" {
		t.Fatalf("sam's session: %q %q %v", name, mech, ok)
	}
	e.sync2()
	hub.SetUser(oidcuptest.User{Sub: "hub-sam", PreferredUsername: "sam-hub"})
	if st, body := sam.get(begin(hubID, "?link=1")); st != http.StatusOK {
		t.Fatalf("sam links Hub: %d %s legs %+v", st, body, sam.legs)
	}
	e.sync2()
	p, ok := e.person("sam")
	if !ok {
		t.Fatal("no person sam")
	}
	unlink := func() (int, string) {
		req, _ := http.NewRequest(http.MethodDelete, "https://localhost/v1/person/"+p.UUID+"/sso/"+hubID+"/hub-sam", nil)
		resp, err := sam.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Read-only: the unlink needs a reauthentication, and the stepped one
	// cannot repeat an upstream login.
	if st, body := unlink(); st != http.StatusForbidden || !strings.Contains(body, "reauth_required") {
		t.Fatalf("unlink before reauth: %d %s", st, body)
	}
	var ra reauthAnswer
	if st := sam.postJSON("/v1/reauth?next=/ui/account", map[string]any{"issue": "cookie"}, &ra); st != http.StatusForbidden ||
		ra.Code != "reauth_external" || ra.ReauthURL != "/ui/sso/reauth?next=%2Fui%2Faccount" || !strings.Contains(ra.Error, "identity provider") {
		t.Fatalf("POST /v1/reauth: %d %+v", st, ra)
	}
	// The page lists both linked providers.
	st, body := sam.get("https://localhost" + ra.ReauthURL)
	if st != http.StatusOK || !strings.Contains(body, "/ui/sso/login/"+corpID+"?next=%2Fui%2Faccount&amp;reauth=1") ||
		!strings.Contains(body, "/ui/sso/login/"+hubID+"?") {
		t.Fatalf("reauth page: %d %s", st, body)
	}
	// Confirm through Corp: back on /ui/account, the same session, writable.
	before := sessionID(t, sam)
	if st, body := sam.get(begin(corpID, "?reauth=1&next="+url.QueryEscape("/ui/account"))); st != http.StatusOK {
		t.Fatalf("reauth through Corp: %d %s legs %+v", st, body, sam.legs)
	}
	sam.crossNode("reauth", "/ui/sso/callback/")
	if last := sam.legs[len(sam.legs)-1]; !strings.HasSuffix(last.URL, "/ui/account") {
		t.Fatalf("reauth ends at %s, want /ui/account", last.URL)
	}
	if after := sessionID(t, sam); after != before {
		t.Fatalf("reauth made a new session %s (was %s)", after, before)
	}
	if st, body := unlink(); st >= 300 {
		t.Fatalf("unlink after reauth: %d %s", st, body)
	}
	e.sync2()
	if st, body := sam.get("https://localhost/v1/self/sso"); st != http.StatusOK || strings.Contains(body, "hub-sam") || !strings.Contains(body, "corp-sam") {
		t.Fatalf("sam's identities after unlinking Hub: %d %s", st, body)
	}

	// Hub now vouches for olga: her identity does not confirm sam's session.
	hub.SetUser(oidcuptest.User{Sub: "hub-olga", PreferredUsername: "olga"})
	st, body = sam.get(begin(hubID, "?reauth=1"))
	if st != http.StatusForbidden || !strings.Contains(body, "not linked to your account sam") {
		t.Fatalf("reauth with olga's identity: %d %s", st, body)
	}
	if name, _, ok := sam.session(); !ok || name != "sam" {
		t.Fatalf("sam's session after the refused reauth: %q %v", name, ok)
	}
}

// sessionID is the id of the browser's session (GET /v1/session).
func sessionID(t *testing.T, b *browser) string {
	t.Helper()
	st, body := b.get("https://localhost/v1/session")
	var s struct {
		ID string `json:"id"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil || s.ID == "" {
		t.Fatalf("GET /v1/session: %d %s", st, body)
	}
	return s.ID
}

// TestKerberosReauth: a Kerberos session (gokrb5, as curl --negotiate
// would) is read-only; /v1/reauth sends it to /v1/auth/spnego?reauth=1,
// where a fresh ticket next to the session's Bearer token gives the same
// session a write window, and the session writes.
func TestKerberosReauth(t *testing.T) {
	k := startKerberos(t, map[string]string{"kim@" + krbRealm: "kim-" + strongPassword()})
	c := NewCluster(t, 3)
	c.ConfigExtra = k.ConfigExtra()
	c.StartAll()
	c.WaitHealthy()
	ctx := context.Background()
	admin, _ := c.Admin(c.Nodes[0], "idm_admin")
	if _, err := admin.CreatePerson(ctx, "kim", "Kim", nil); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, c, admin.LastIndex())
	hc := c.HTTP()
	cl := k.GoClient("kim@" + krbRealm)
	r := k.GoSPNEGO(cl, hc, c.Nodes[0].URL())
	if r.Status != http.StatusOK || r.Token == "" {
		t.Fatalf("kerberos login: %d %s", r.Status, r.Body)
	}
	kim := c.Client(c.Nodes[1], r.Token)
	before, err := kim.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ra reauthAnswer
	if _, err := kim.Do(ctx, "POST", "/v1/reauth", map[string]any{}, &ra); err == nil || !strings.Contains(err.Error(), "Kerberos") {
		t.Fatalf("POST /v1/reauth of a Kerberos session: %v %+v", err, ra)
	}
	// The reauth itself, on a third node: Negotiate and the Bearer session.
	req, _ := http.NewRequest(http.MethodGet, c.Nodes[2].URL()+"/v1/auth/spnego?reauth=1", nil)
	if err := gspnego.SetSPNEGOHeader(cl, req, krbService); err != nil {
		t.Fatal(err)
	}
	req.Header.Add("Authorization", "Bearer "+r.Token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rr := parseNegotiate(resp.StatusCode, b)
	if rr.Status != http.StatusOK || rr.Token == "" {
		t.Fatalf("kerberos reauth: %d %s", rr.Status, rr.Body)
	}
	kimRW := c.Client(c.Nodes[0], rr.Token)
	after, err := kimRW.Session(ctx)
	if err != nil || after.ID != before.ID {
		t.Fatalf("session after reauth %+v (was %+v): %v", after, before, err)
	}
	// A write of her own: opening a credential update (enrol a passkey)
	// needs a read-write session. The old token stays read-only.
	if _, err := kim.Do(ctx, "POST", "/v1/credential/update", nil, nil); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("the read-only token opens a credential update: %v", err)
	}
	if _, err := kimRW.Do(ctx, "POST", "/v1/credential/update", nil, nil); err != nil {
		t.Fatalf("write after reauth: %v", err)
	}
}
