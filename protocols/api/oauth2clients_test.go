package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/oauth2client"
)

func newOAuth2TestAPI(t *testing.T) *testAPI {
	t.Helper()
	a := newTestAPI(t)
	a.srv.OAuth2Clients = oauth2client.New(a.w.Svc, a.w.Sealer)
	a.h = a.srv.Handler()
	return a
}

func TestAnIDMAdminManagesABasicClientThroughTheAPI(t *testing.T) {
	a := newOAuth2TestAPI(t)
	a.must(t, "POST", "/v1/person", a.admin, `{"name":"alice","displayname":"Alice"}`, http.StatusCreated)
	a.must(t, "POST", "/v1/group", a.admin, `{"name":"wiki_users","members":["alice"]}`, http.StatusCreated)

	created := decodeBody[OAuth2ClientView](t, a.must(t, "POST", "/v1/oauth2", a.idm,
		`{"name":"wiki","displayname":"The Wiki","origin":"https://wiki.example.com"}`, http.StatusCreated))
	if created.Secret == "" || created.Public || !created.PKCE {
		t.Fatalf("created %+v", created)
	}
	const c = "/v1/oauth2/wiki"
	a.must(t, "POST", c+"/redirect_urls", a.idm, `{"url":"https://wiki.example.com/oidc/callback"}`, http.StatusOK)
	a.must(t, "POST", c+"/redirect_urls", a.idm, `{"url":"http://wiki.example.com/cb"}`, http.StatusBadRequest)
	a.must(t, "POST", c+"/scope_maps/wiki_users", a.idm, `{"scopes":["openid","profile","email"]}`, http.StatusOK)
	a.must(t, "POST", c+"/sup_scope_maps/wiki_users", a.idm, `{"scopes":["groups"]}`, http.StatusOK)
	a.must(t, "POST", c+"/claim_maps/roles/wiki_users", a.idm, `{"values":["editor","reader"]}`, http.StatusOK)
	a.must(t, "POST", c+"/claim_maps/roles/join", a.idm, `{"join":"ssv"}`, http.StatusOK)
	a.must(t, "POST", c+"/username", a.idm, `{"prefer_short":true}`, http.StatusOK)
	w := a.must(t, "POST", c+"/pkce", a.idm, `{"enabled":false}`, http.StatusOK)
	if v := decodeBody[OAuth2ClientView](t, w); v.PKCE || !strings.Contains(v.Warning, "PKCE") {
		t.Fatalf("pkce off: %+v", v)
	}
	a.must(t, "PATCH", c, a.idm, `{"displayname":"Wiki"}`, http.StatusOK)

	// Any session reads; the view names the groups and hides the secret.
	alice := a.sessionToken(t, entryUUID(t, a, "alice"), "alice", false)
	got := decodeBody[OAuth2ClientView](t, a.must(t, "GET", c, alice, "", http.StatusOK))
	if got.DisplayName != "Wiki" || got.Secret != "" || len(got.RedirectURLs) != 1 || got.PKCE || !got.PreferShortUsername ||
		len(got.ScopeMaps) != 1 || got.ScopeMaps[0].Group != "wiki_users" || len(got.SupScopeMaps) != 1 ||
		len(got.ClaimMaps) != 1 || got.ClaimMaps[0].Join != "ssv" {
		t.Fatalf("read back %+v", got)
	}
	if strings.Contains(a.must(t, "GET", c, alice, "", http.StatusOK).Body.String(), "sealed") {
		t.Fatal("the view leaks the sealed secret")
	}
	l := decodeBody[OAuth2ClientList](t, a.must(t, "GET", "/v1/oauth2", alice, "", http.StatusOK))
	if len(l.Clients) != 1 || l.Clients[0].Name != "wiki" {
		t.Fatalf("list %+v", l)
	}
	// Readers may not change clients or see secrets.
	aliceRW := a.token(t, entryUUID(t, a, "alice"), "alice")
	a.must(t, "GET", c+"/basic_secret", aliceRW, "", http.StatusForbidden)
	a.must(t, "POST", c+"/redirect_urls", aliceRW, `{"url":"https://evil.example.com/cb"}`, http.StatusForbidden)
	a.must(t, "POST", "/v1/oauth2/_keys/rotate", aliceRW, "", http.StatusForbidden)
	// Showing a secret needs a read-write session even for an admin.
	a.must(t, "GET", c+"/basic_secret", a.sessionToken(t, entry.UUIDIDMAdmin, "idm_admin", false), "", http.StatusForbidden)

	shown := decodeBody[OAuth2Secret](t, a.must(t, "GET", c+"/basic_secret", a.idm, "", http.StatusOK))
	if shown.Secret != created.Secret {
		t.Fatal("show-basic-secret differs from the secret given on create")
	}
	reset := decodeBody[OAuth2Secret](t, a.must(t, "POST", c+"/basic_secret", a.idm, "", http.StatusOK))
	if reset.Secret == created.Secret || reset.Secret == "" {
		t.Fatal("reset kept the secret")
	}

	a.must(t, "DELETE", c+"/claim_maps/roles/wiki_users", a.idm, "", http.StatusOK)
	a.must(t, "DELETE", c+"/sup_scope_maps/wiki_users", a.idm, "", http.StatusOK)
	a.must(t, "DELETE", c+"/scope_maps/wiki_users", a.idm, "", http.StatusOK)
	a.must(t, "DELETE", c+"/scope_maps/wiki_users", a.idm, "", http.StatusNotFound)
	a.must(t, "DELETE", c+"/redirect_urls", a.idm, `{"url":"https://wiki.example.com/oidc/callback"}`, http.StatusOK)
	a.must(t, "POST", c+"/pkce", a.idm, `{}`, http.StatusBadRequest)
	a.must(t, "DELETE", c, a.idm, "", http.StatusNoContent)
	a.must(t, "GET", c, a.idm, "", http.StatusNotFound)
}

func TestPublicClientsLegacyCryptoAndKeyRotationThroughTheAPI(t *testing.T) {
	a := newOAuth2TestAPI(t)
	v := decodeBody[OAuth2ClientView](t, a.must(t, "POST", "/v1/oauth2", a.idm,
		`{"name":"spa","displayname":"SPA","origin":"https://spa.example.com","public":true}`, http.StatusCreated))
	if v.Secret != "" || !v.Public {
		t.Fatalf("public client %+v", v)
	}
	a.must(t, "POST", "/v1/oauth2/spa/pkce", a.idm, `{"enabled":false}`, http.StatusBadRequest)
	a.must(t, "GET", "/v1/oauth2/spa/basic_secret", a.idm, "", http.StatusBadRequest)
	// A person's name is no client.
	a.must(t, "GET", "/v1/oauth2/admin", a.idm, "", http.StatusNotFound)

	keys := len(a.w.FSM.SigningKeys())
	w := a.must(t, "POST", "/v1/oauth2/spa/legacy_crypto", a.idm, `{"enabled":true}`, http.StatusOK)
	if v := decodeBody[OAuth2ClientView](t, w); !v.LegacyCrypto || !strings.Contains(v.Warning, "RS256") {
		t.Fatalf("legacy on: %+v", v)
	}
	ks := a.w.FSM.SigningKeys()
	if len(ks) != keys+1 || ks[len(ks)-1].Alg != "RS256" {
		t.Fatalf("enabling legacy crypto should add one RS256 key: %d keys", len(ks))
	}
	r := decodeBody[KeyRotation](t, a.must(t, "POST", "/v1/oauth2/_keys/rotate", a.admin, "", http.StatusOK))
	if len(r.Added) != 2 || len(a.w.FSM.SigningKeys()) != keys+3 {
		t.Fatalf("rotate: %+v, %d keys", r, len(a.w.FSM.SigningKeys()))
	}
	a.must(t, "POST", "/v1/oauth2/spa/legacy_crypto", a.idm, `{"enabled":false}`, http.StatusOK)
}

func TestOAuth2RoutesAnswer503WhenNotWired(t *testing.T) {
	a := newTestAPI(t)
	a.must(t, "GET", "/v1/oauth2", a.idm, "", http.StatusServiceUnavailable)
}

func entryUUID(t *testing.T, a *testAPI, name string) string {
	t.Helper()
	e, ok := a.w.FSM.Entry(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	return e.UUID
}
