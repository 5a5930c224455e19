package oauth2

import (
	"slices"
	"testing"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

type fakeState struct {
	entries  map[string]*entry.Entry
	memberOf map[string][]string
}

func (f fakeState) Entry(id string) (*entry.Entry, bool) { e, ok := f.entries[id]; return e, ok }
func (f fakeState) MemberOf(id string) []string          { return f.memberOf[id] }
func (f fakeState) System() fsm.System                   { return fsm.System{Domain: "example.com"} }

const (
	gUsers  = "11111111-1111-4111-8111-111111111111"
	gAdmins = "22222222-2222-4222-8222-222222222222"
	alice   = "33333333-3333-4333-8333-333333333333"
	bob     = "44444444-4444-4444-8444-444444444444"
)

func TestScopesAndClaims(t *testing.T) {
	st := fakeState{
		entries:  map[string]*entry.Entry{gUsers: {UUID: gUsers, Name: "users"}, gAdmins: {UUID: gAdmins, Name: "admins"}},
		memberOf: map[string][]string{alice: {gUsers}, bob: {gUsers, gAdmins}}, // sorted, as fsm.MemberOf answers,
	}
	c := &entry.Entry{Name: "app", OAuth2: &entry.OAuth2Settings{
		ScopeMaps:    []entry.ScopeMap{{Group: gUsers, Scopes: []string{"openid", "profile", "groups"}}},
		SupScopeMaps: []entry.ScopeMap{{Group: gAdmins, Scopes: []string{"admin"}}},
		ClaimMaps: []entry.ClaimMap{{Claim: "roles", Group: gUsers, Values: []string{"user"}},
			{Claim: "roles", Group: gAdmins, Values: []string{"admin"}, Join: "ssv"}}}}
	got, err := GrantedScopes(st, c, alice, []string{"profile", "openid", "admin", "email", "openid"})
	if err != nil || !slices.Equal(got, []string{"openid", "profile"}) {
		t.Fatalf("alice: %v %v", got, err)
	}
	got, _ = GrantedScopes(st, c, bob, []string{"admin", "openid"})
	if !slices.Equal(got, []string{"admin", "openid"}) {
		t.Fatalf("bob (sup scope map): %v", got)
	}
	if _, err := GrantedScopes(st, c, "55555555-5555-4555-8555-555555555555", []string{"openid"}); err != ErrAccessDenied {
		t.Fatalf("no scope map: %v", err)
	}
	if got := ClientScopes([]string{"openid", "read", "offline_access", "write"}); !slices.Equal(got, []string{"read", "write"}) {
		t.Fatalf("client scopes: %v", got)
	}
	person := &entry.Entry{UUID: bob, Name: "bob", DisplayName: "Bob", Mail: []string{"bob@example.com", "b@x"}}
	cl := Claims(st, c, person, []string{"openid", "profile", "email", "groups"})
	if cl["preferred_username"] != "bob@example.com" || cl["name"] != "Bob" || cl["email"] != "bob@example.com" || cl["roles"] != "admin user" {
		t.Fatalf("claims: %v", cl)
	}
	if gs := cl["groups"].([]string); !slices.Contains(gs, "users@example.com") || !slices.Contains(gs, gUsers) {
		t.Fatalf("groups: %v", gs)
	}
	c.OAuth2.PreferShortUsername = true
	if cl := Claims(st, c, person, []string{"profile"}); cl["preferred_username"] != "bob" || cl["email"] != nil {
		t.Fatalf("short username: %v", cl)
	}
}
