package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/sso"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

func newSSOAPI(t *testing.T) (*testAPI, *sso.Service) {
	a := newTestAPI(t)
	svc := sso.New(a.w.Svc, a.w.Sealer, testIssuer)
	a.srv.SSODeps = SSODeps{SSO: svc}
	a.h = a.srv.Handler()
	return a, svc
}

func TestSSOProviderRoutes(t *testing.T) {
	a, _ := newSSOAPI(t)
	body := `{"name":"Corp","type":"oidc","client_id":"gh","client_secret":"top-secret-value","discovery_url":"https://127.0.0.1:1/","auto_create":"default","auto_enable":true}`
	if w := a.do("POST", "/v1/sso/providers", a.idm, body, nil); w.Code != http.StatusForbidden {
		t.Fatalf("idm_admin create: %d %s", w.Code, w.Body)
	}
	w := a.do("POST", "/v1/sso/providers", a.admin, body, nil)
	if w.Code != http.StatusCreated || strings.Contains(w.Body.String(), "top-secret-value") || strings.Contains(w.Body.String(), "sealed") {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	v := decodeBody[sso.ProviderView](t, w)
	if !v.HasClientSecret || v.CallbackURL != testIssuer+"/ui/sso/callback/"+v.UUID || v.AutoCreate != nil || v.AutoEnable == nil || !*v.AutoEnable {
		t.Fatalf("view: %+v", v)
	}
	list := decodeBody[providerList](t, a.do("GET", "/v1/sso/providers", a.idm, "", nil))
	if len(list.Providers) != 1 || list.Providers[0].Name != "Corp" {
		t.Fatalf("list: %+v", list)
	}
	user := a.token(t, a.ssoPerson(t, "pat"), "pat")
	if w := a.do("GET", "/v1/sso/providers", user, "", nil); w.Code != http.StatusForbidden {
		t.Fatalf("a person lists providers: %d", w.Code)
	}
	w = a.do("PATCH", "/v1/sso/providers/Corp", a.admin, `{"enabled":false,"scopes":["openid"]}`, nil)
	if v := decodeBody[sso.ProviderView](t, w); w.Code != 200 || v.Enabled || len(v.Scopes) != 1 {
		t.Fatalf("patch: %d %s", w.Code, w.Body)
	}
	if w := a.do("PATCH", "/v1/sso/providers/Corp", a.admin, `{"bogus":1}`, nil); w.Code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d", w.Code)
	}
	// Test connection of an unreachable provider reports, it does not fail.
	w = a.do("POST", "/v1/sso/providers/"+v.UUID+"/test", a.admin, "", nil)
	if tb := decodeBody[testBody](t, w); w.Code != 200 || tb.OK || len(tb.Checks) == 0 {
		t.Fatalf("test: %d %s", w.Code, w.Body)
	}
	if w := a.do("DELETE", "/v1/sso/providers/Corp", a.admin, "", nil); w.Code != 200 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if w := a.do("GET", "/v1/sso/providers/Corp", a.admin, "", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "SSO provider not found") {
		t.Fatalf("after delete: %d %s", w.Code, w.Body)
	}
}

func TestSSOSettingsAndPersonRoutes(t *testing.T) {
	a, svc := newSSOAPI(t)
	w := a.do("GET", "/v1/sso/settings", a.idm, "", nil)
	if st := decodeBody[SettingsView](t, w); !st.LocalAuth || !st.AutoCreate || st.AutoEnable {
		t.Fatalf("defaults: %s", w.Body)
	}
	w = a.do("PATCH", "/v1/sso/settings", a.admin, `{"local_auth":false}`, nil)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), sso.WarningLocalAuth) {
		t.Fatalf("lock-out: %d %s", w.Code, w.Body)
	}
	ctx := context.Background()
	p, _, err := svc.CreateProvider(ctx, sysActor, sso.ProviderInput{Name: ptr("Corp"), Type: "oidc", ClientID: ptr("c"), DiscoveryURL: ptr("https://idp.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	pat := a.ssoPerson(t, "pat")
	if _, err := svc.Link(ctx, pat, p, upstream.Identity{Subject: "cn=pat/x"}); err != nil {
		t.Fatal(err)
	}
	patTok := a.token(t, pat, "pat")
	self := decodeBody[SelfSSO](t, a.do("GET", "/v1/self/sso", patTok, "", nil))
	if len(self.Identities) != 1 || len(self.Providers) != 1 || self.Providers[0].LinkURL != "/ui/sso/login/"+p.UUID+"?link=1" {
		t.Fatalf("self: %+v", self)
	}
	other := a.token(t, a.ssoPerson(t, "oli"), "oli")
	if w := a.do("GET", "/v1/person/pat/sso", other, "", nil); w.Code != http.StatusForbidden {
		t.Fatalf("another person's identities: %d", w.Code)
	}
	// Overrides: idm_admins only.
	if w := a.do("PATCH", "/v1/person/pat/sso/overrides", patTok, `{"local_auth":true}`, nil); w.Code != http.StatusForbidden {
		t.Fatalf("pat sets own overrides: %d %s", w.Code, w.Body)
	}
	w = a.do("PATCH", "/v1/person/pat/sso/overrides", a.idm, `{"local_auth":"on","sso":"default","note":"service desk"}`, nil)
	if acc := decodeBody[sso.AccountSSO](t, w); w.Code != 200 || acc.Overrides.LocalAuth == nil || !*acc.Overrides.LocalAuth || acc.Overrides.Note != "service desk" {
		t.Fatalf("overrides: %d %s", w.Code, w.Body)
	}
	// Unlinking the only way in is refused; the subject may hold a slash.
	path := "/v1/person/pat/sso/" + p.UUID + "/" + url.PathEscape("cn=pat/x")
	if w := a.do("DELETE", path, patTok, "", nil); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "last way") {
		t.Fatalf("unlink last: %d %s", w.Code, w.Body)
	}
	if w := a.do("GET", "/v1/person/pat/sso", a.idm, "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "cn=pat/x") {
		t.Fatalf("admin view: %d %s", w.Code, w.Body)
	}
}

var sysActor = idm.Actor{UUID: entry.UUIDAdmin, Name: "admin"}

func ptr(s string) *string { return &s }

// person creates a person and returns its uuid.
func (a *testAPI) ssoPerson(t *testing.T, name string) string {
	t.Helper()
	w := a.do("POST", "/v1/person", a.admin, `{"name":"`+name+`"}`, nil)
	if w.Code != http.StatusCreated && w.Code != http.StatusOK {
		t.Fatalf("create %s: %d %s", name, w.Code, w.Body)
	}
	return decodeBody[EntryView](t, w).UUID
}
