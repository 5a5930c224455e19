package oauth2

import (
	"errors"
	"slices"
	"strings"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// The scopes every client understands; the user scopes name data about a
// person and are never granted to a client acting for itself.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeGroups        = "groups"
	ScopeOfflineAccess = "offline_access"
)

// UserScopes are the scopes that only make sense with a person behind them.
var UserScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeOfflineAccess}

// ErrAccessDenied: the person is in no group the client's scope maps name.
var ErrAccessDenied = errors.New("this account may not use this application: it is in none of the groups the application's scope maps name")

// State is what scope and claim resolution read (the FSM).
type State interface {
	Entry(id string) (*entry.Entry, bool)
	MemberOf(id string) []string
	System() fsm.System
}

// SplitScopes parses a space-separated scope string: valid scopes only,
// sorted and distinct.
func SplitScopes(s string) []string {
	return NormalizeScopes(strings.Fields(s))
}

// NormalizeScopes keeps valid scopes, sorted and distinct.
func NormalizeScopes(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if entry.ValidScope(s) == nil {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > fsm.MaxOAuth2Scopes {
		out = out[:fsm.MaxOAuth2Scopes]
	}
	return out
}

// GrantedScopes decides what account (a person or service account uuid)
// gets from client out of requested: requested ∩ the union of the scope
// maps of its groups, plus the sup scope maps' scopes it requested. No
// scope map for any of its groups: ErrAccessDenied. The result is sorted.
func GrantedScopes(st State, client *entry.Entry, account string, requested []string) ([]string, error) {
	groups := st.MemberOf(account)
	member := func(g string) bool { _, ok := slices.BinarySearch(groups, g); return ok }
	allowed := map[string]bool{}
	mapped := false
	for _, m := range client.OAuth2.ScopeMaps {
		if member(m.Group) {
			mapped = true
			for _, s := range m.Scopes {
				allowed[s] = true
			}
		}
	}
	if !mapped {
		return nil, ErrAccessDenied
	}
	for _, m := range client.OAuth2.SupScopeMaps {
		if member(m.Group) {
			for _, s := range m.Scopes {
				allowed[s] = true
			}
		}
	}
	out := []string{}
	for _, s := range NormalizeScopes(requested) {
		if allowed[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

// ClientScopes are the scopes a basic client acting for itself
// (client_credentials) gets: what it asked for, less the user scopes.
func ClientScopes(requested []string) []string {
	out := []string{}
	for _, s := range NormalizeScopes(requested) {
		if !slices.Contains(UserScopes, s) {
			out = append(out, s)
		}
	}
	return out
}

// ServiceScopes are the scopes a service account gets through client
// credentials: like a person, by the scope maps of its groups, without the
// user scopes. A service account in no mapped group gets ErrAccessDenied.
func ServiceScopes(st State, client *entry.Entry, account string, requested []string) ([]string, error) {
	if client == nil {
		return ClientScopes(requested), nil
	}
	s, err := GrantedScopes(st, client, account, requested)
	if err != nil {
		return nil, err
	}
	return ClientScopes(s), nil
}

// AMR maps a session's mechanism to RFC 8176 authentication method
// reference values.
func AMR(mech string) []string {
	switch mech {
	case entry.MechPassword, entry.MechGeneratedPassword:
		return []string{"pwd"}
	case entry.MechPasswordMFA:
		return []string{"mfa", "otp", "pwd"}
	case entry.MechPasswordSecurityKey:
		return []string{"hwk", "mfa", "pwd"}
	case entry.MechPasskey, entry.MechAttestedPasskey:
		return []string{"hwk", "user"}
	case entry.MechKerberos:
		// RFC 8176 "wia": Windows integrated authentication, which is
		// what SPNEGO with a Kerberos ticket is ("kba" would claim a
		// knowledge-based question).
		return []string{"wia"}
	case entry.MechSSOMFA:
		// An upstream provider we trust for MFA said it did MFA.
		return []string{"mfa"}
	case "":
		return nil
	}
	return []string{mech}
}

// Claims are the identity claims of person for client under scopes: what
// the ID token and userinfo carry (sub is added by the caller). Claim maps
// apply whatever the scopes.
func Claims(st State, client, person *entry.Entry, scopes []string) map[string]any {
	out := map[string]any{}
	has := func(s string) bool { return slices.Contains(scopes, s) }
	domain := st.System().Domain
	if has(ScopeProfile) {
		if client.OAuth2.PreferShortUsername {
			out["preferred_username"] = person.Name
		} else {
			out["preferred_username"] = person.Name + "@" + domain
		}
		name := person.DisplayName
		if name == "" {
			name = person.Name
		}
		out["name"] = name
	}
	if has(ScopeEmail) && len(person.Mail) > 0 {
		out["email"] = person.Mail[0]
		out["email_verified"] = true
	}
	groups := st.MemberOf(person.UUID)
	if has(ScopeGroups) {
		var gs []string
		for _, g := range groups {
			if ge, ok := st.Entry(g); ok {
				gs = append(gs, ge.Name+"@"+domain)
			}
			gs = append(gs, g)
		}
		if gs == nil {
			gs = []string{}
		}
		out["groups"] = gs
	}
	for claim, v := range mappedClaims(client, groups) {
		out[claim] = v
	}
	return out
}

// mappedClaims merges the values of every claim map whose group the person
// is in, joined as the map says.
func mappedClaims(client *entry.Entry, groups []string) map[string]any {
	vals := map[string][]string{}
	join := map[string]string{}
	for _, m := range client.OAuth2.ClaimMaps {
		if _, ok := slices.BinarySearch(groups, m.Group); !ok {
			continue
		}
		vals[m.Claim] = append(vals[m.Claim], m.Values...)
		if m.Join != "" {
			join[m.Claim] = m.Join
		}
	}
	out := map[string]any{}
	for c, vs := range vals {
		slices.Sort(vs)
		vs = slices.Compact(vs)
		switch join[c] {
		case "csv":
			out[c] = strings.Join(vs, ",")
		case "ssv":
			out[c] = strings.Join(vs, " ")
		default:
			out[c] = vs
		}
	}
	return out
}
