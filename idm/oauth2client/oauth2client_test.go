package oauth2client

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/idmtest"
)

var (
	idmAdmin = idm.Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}
	admin    = idm.Actor{UUID: entry.UUIDAdmin, Name: "admin"}
)

func newWorld(t *testing.T) (*idmtest.World, *Service) {
	t.Helper()
	w := idmtest.New(t, nil)
	return w, New(w.Svc, w.Sealer)
}

func code(err error) string {
	var e *idm.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "?"
}

func TestABasicClientGetsASealedSecretThatCanBeShownAndReset(t *testing.T) {
	w, s := newWorld(t)
	ctx := context.Background()
	e, secret, _, err := s.Create(ctx, idmAdmin, "wiki", "The Wiki", "https://wiki.example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) < 32 {
		t.Fatalf("secret %q is not 32+ bytes of base64url: %v", secret, err)
	}
	stored, _ := w.FSM.Entry("wiki")
	if stored.OAuth2 == nil || string(stored.OAuth2.SealedSecret) == secret || len(stored.OAuth2.SealedSecret) == 0 {
		t.Fatalf("stored settings: %+v", stored.OAuth2)
	}
	plain, err := w.Sealer.Open(stored.OAuth2.SealedSecret, entry.OAuth2SecretAAD(e.UUID))
	if err != nil || string(plain) != secret {
		t.Fatalf("the sealed secret does not open to the one returned: %v", err)
	}
	if got, err := s.ShowSecret(admin, "wiki"); err != nil || got != secret {
		t.Fatalf("show: %q, %v", got, err)
	}
	fresh, _, err := s.ResetSecret(ctx, idmAdmin, "wiki")
	if err != nil || fresh == secret {
		t.Fatalf("reset: %v", err)
	}
	if got, _ := s.ShowSecret(idmAdmin, "wiki"); got != fresh {
		t.Fatal("show after reset does not give the new secret")
	}
	// A person who is no admin may neither see nor reset it.
	alice, _, err := w.Svc.Create(ctx, idm.System, entry.Person, idm.Input{Name: ptr("alice"), DisplayName: ptr("Alice")})
	if err != nil {
		t.Fatal(err)
	}
	who := idm.Actor{UUID: alice.UUID, Name: "alice"}
	if _, err := s.ShowSecret(who, "wiki"); code(err) != "forbidden" {
		t.Fatalf("alice show: %v", err)
	}
	if _, _, err := s.ResetSecret(ctx, who, "wiki"); code(err) != "forbidden" {
		t.Fatalf("alice reset: %v", err)
	}
	if _, _, _, err := s.Create(ctx, who, "evil", "Evil", "https://evil.example.com", false); code(err) != "forbidden" {
		t.Fatalf("alice create: %v", err)
	}
	// Names are unique across all entries.
	if _, _, _, err := s.Create(ctx, idmAdmin, "alice", "A", "https://a.example.com", true); code(err) != "conflict" {
		t.Fatalf("name of a person: %v", err)
	}
}

func TestAPublicClientHasNoSecretAndKeepsPKCE(t *testing.T) {
	_, s := newWorld(t)
	ctx := context.Background()
	_, secret, _, err := s.Create(ctx, idmAdmin, "cli-app", "CLI", "https://app.example.com", true)
	if err != nil || secret != "" {
		t.Fatalf("create-public: %q, %v", secret, err)
	}
	if _, err := s.ShowSecret(idmAdmin, "cli-app"); code(err) != "invalid" {
		t.Fatalf("show on public: %v", err)
	}
	if _, _, err := s.ResetSecret(ctx, idmAdmin, "cli-app"); code(err) != "invalid" {
		t.Fatalf("reset on public: %v", err)
	}
	if _, _, err := s.SetPKCE(ctx, idmAdmin, "cli-app", false); code(err) != "invalid" {
		t.Fatalf("disable pkce on public: %v", err)
	}
	if _, _, _, err := s.Create(ctx, idmAdmin, "bad", "Bad", "ftp://x", true); code(err) != "invalid" {
		t.Fatalf("bad origin: %v", err)
	}
}

func TestSettingsChangeOneAtATime(t *testing.T) {
	w, s := newWorld(t)
	ctx := context.Background()
	if _, _, _, err := s.Create(ctx, idmAdmin, "wiki", "Wiki", "https://wiki.example.com", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Svc.Create(ctx, idm.System, entry.Group, idm.Input{Name: ptr("readers")}); err != nil {
		t.Fatal(err)
	}
	readers, _ := w.FSM.Entry("readers")
	must := func(_ *entry.Entry, _ uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.AddRedirectURL(ctx, idmAdmin, "wiki", "https://wiki.example.com/cb"))
	must(s.AddRedirectURL(ctx, idmAdmin, "wiki", "https://wiki.example.com/cb")) // idempotent
	must(s.AddRedirectURL(ctx, idmAdmin, "wiki", "http://127.0.0.1/cb"))
	if _, _, err := s.AddRedirectURL(ctx, idmAdmin, "wiki", "http://wiki.example.com/cb"); code(err) != "invalid" {
		t.Fatalf("plain http: %v", err)
	}
	must(s.RemoveRedirectURL(ctx, idmAdmin, "wiki", "http://127.0.0.1/cb"))
	if _, _, err := s.RemoveRedirectURL(ctx, idmAdmin, "wiki", "http://127.0.0.1/cb"); code(err) != "not_found" {
		t.Fatalf("remove twice: %v", err)
	}
	must(s.SetScopeMap(ctx, idmAdmin, "wiki", "readers", []string{"openid profile", "email", "openid"}, false))
	must(s.SetScopeMap(ctx, idmAdmin, "wiki", "readers", []string{"groups"}, true))
	if _, _, err := s.SetScopeMap(ctx, idmAdmin, "wiki", "nobody", []string{"openid"}, false); code(err) != "not_found" {
		t.Fatalf("unknown group: %v", err)
	}
	if _, _, err := s.SetScopeMap(ctx, idmAdmin, "wiki", "readers", []string{"bad\"scope"}, false); code(err) != "invalid" {
		t.Fatalf("bad scope: %v", err)
	}
	must(s.SetClaimMap(ctx, idmAdmin, "wiki", "roles", "readers", []string{"reader", "viewer"}))
	must(s.SetClaimJoin(ctx, idmAdmin, "wiki", "roles", "csv"))
	if _, _, err := s.SetClaimMap(ctx, idmAdmin, "wiki", "sub", "readers", []string{"x"}); code(err) != "invalid" {
		t.Fatalf("reserved claim: %v", err)
	}
	if _, _, err := s.SetClaimJoin(ctx, idmAdmin, "wiki", "nope", "csv"); code(err) != "not_found" {
		t.Fatalf("join of a claim without maps: %v", err)
	}
	must(s.SetPKCE(ctx, idmAdmin, "wiki", false))
	must(s.SetPreferShortUsername(ctx, idmAdmin, "wiki", true))
	disp := "The Wiki"
	must(s.Update(ctx, idmAdmin, "wiki", Patch{DisplayName: &disp}))

	e, _ := s.Get("wiki")
	o := e.OAuth2
	if e.DisplayName != "The Wiki" || !slices.Equal(o.RedirectURIs, []string{"https://wiki.example.com/cb"}) ||
		len(o.ScopeMaps) != 1 || o.ScopeMaps[0].Group != readers.UUID || !slices.Equal(o.ScopeMaps[0].Scopes, []string{"email", "openid", "profile"}) ||
		len(o.SupScopeMaps) != 1 || !slices.Equal(o.SupScopeMaps[0].Scopes, []string{"groups"}) ||
		len(o.ClaimMaps) != 1 || o.ClaimMaps[0].Join != "csv" || !o.PKCEDisabled || !o.PreferShortUsername {
		t.Fatalf("settings: %+v %+v", e, o)
	}
	must(s.DeleteScopeMap(ctx, idmAdmin, "wiki", "readers", true))
	must(s.DeleteClaimMap(ctx, idmAdmin, "wiki", "roles", "readers"))
	must(s.SetPKCE(ctx, idmAdmin, "wiki", true))
	e, _ = s.Get("wiki")
	if len(e.OAuth2.SupScopeMaps) != 0 || len(e.OAuth2.ClaimMaps) != 0 || e.OAuth2.PKCEDisabled || len(e.OAuth2.ScopeMaps) != 1 {
		t.Fatalf("after deletes: %+v", e.OAuth2)
	}
	if len(s.List()) != 1 {
		t.Fatalf("list: %d", len(s.List()))
	}
	if _, err := s.Delete(ctx, idmAdmin, "wiki"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("wiki"); code(err) != "not_found" {
		t.Fatalf("after delete: %v", err)
	}
	// A person is not an oauth2 client.
	if _, err := s.Get("readers"); code(err) != "not_found" {
		t.Fatalf("get a group: %v", err)
	}
}

func TestLegacyCryptoAddsOneRSAKeyAndRotationFollowsIt(t *testing.T) {
	w, s := newWorld(t)
	ctx := context.Background()
	if _, _, _, err := s.Create(ctx, idmAdmin, "old-app", "Old", "https://old.example.com", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKeys(ctx, idm.Actor{UUID: "00000000-0000-4000-8000-00000000dead", Name: "x"}); code(err) != "forbidden" {
		t.Fatalf("rotate by a stranger: %v", err)
	}
	kids, err := s.RotateKeys(ctx, admin)
	if err != nil || len(kids) != 1 {
		t.Fatalf("rotate without RSA: %v %v", kids, err)
	}
	if _, _, err := s.SetLegacyCrypto(ctx, idmAdmin, "old-app", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetLegacyCrypto(ctx, idmAdmin, "old-app", true); err != nil {
		t.Fatal(err)
	}
	count := func(alg string) int {
		n := 0
		for _, k := range w.FSM.SigningKeys() {
			if k.Alg == alg {
				n++
			}
		}
		return n
	}
	if count(RS256) != 1 || count(ES256) != 2 {
		t.Fatalf("keys: %d RS256, %d ES256", count(RS256), count(ES256))
	}
	if kid, _, err := w.Signer.Active(RS256); err != nil || kid == "" {
		t.Fatalf("the RS256 key does not open: %v", err)
	}
	kids, err = s.RotateKeys(ctx, idmAdmin)
	if err != nil || len(kids) != 2 || count(RS256) != 2 || count(ES256) != 3 {
		t.Fatalf("rotate with RSA: %v %v", kids, err)
	}
	e, _ := s.Get("old-app")
	if !e.OAuth2.LegacyCrypto {
		t.Fatal("legacy crypto not stored")
	}
}

func ptr[T any](v T) *T { return &v }
