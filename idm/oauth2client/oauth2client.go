package oauth2client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// SecretBytes is the entropy of a generated client secret (256 bits).
const SecretBytes = 32

// Service manages OAuth2 clients on one node.
type Service struct {
	IDM    *idm.Service
	Sealer *seal.Sealer
}

// New makes a Service.
func New(svc *idm.Service, sealer *seal.Sealer) *Service {
	return &Service{IDM: svc, Sealer: sealer}
}

// mayManage: idm_admins and system_admins (IsIDMAdmin covers both).
func (s *Service) mayManage(actor idm.Actor) error {
	if actor == idm.System || s.IDM.IsIDMAdmin(actor) {
		return nil
	}
	return idm.Forbidden("%s may not manage oauth2 clients: that needs membership of idm_admins or system_admins", actor.Name)
}

// newSecret makes a client secret: 32 random bytes, base64url.
func newSecret() (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("client secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Service) sealSecret(clientUUID, secret string) ([]byte, error) {
	sealed, err := s.Sealer.Seal([]byte(secret), entry.OAuth2SecretAAD(clientUUID))
	if err != nil {
		return nil, fmt.Errorf("seal client secret: %w", err)
	}
	return sealed, nil
}

// Create makes a basic (public=false) or public client. A basic client's
// secret is returned once here; show-basic-secret reveals it again.
func (s *Service) Create(ctx context.Context, actor idm.Actor, name, displayName, origin string, public bool) (*entry.Entry, string, uint64, error) {
	if err := s.mayManage(actor); err != nil {
		return nil, "", 0, err
	}
	if displayName == "" {
		return nil, "", 0, idm.Invalid("a client needs a display name (shown to users on consent)")
	}
	e := &entry.Entry{UUID: uuid.Must(uuid.NewV7()).String(), Class: entry.OAuth2Client, Name: name, DisplayName: displayName,
		OAuth2: &entry.OAuth2Settings{Public: public, Origin: origin}}
	secret := ""
	if !public {
		var err error
		if secret, err = newSecret(); err != nil {
			return nil, "", 0, err
		}
		if e.OAuth2.SealedSecret, err = s.sealSecret(e.UUID, secret); err != nil {
			return nil, "", 0, err
		}
	}
	out, idx, err := s.IDM.CreateOAuth2Client(ctx, actor, e)
	if err != nil {
		return nil, "", 0, err
	}
	return out, secret, idx, nil
}

// Get finds a client by name, uuid or spn.
func (s *Service) Get(id string) (*entry.Entry, error) {
	e, ok := s.IDM.Lookup(id)
	if !ok || e.Class != entry.OAuth2Client {
		return nil, idm.NotFound("no oauth2 client named %q", id)
	}
	return e, nil
}

// List returns every client, sorted by name.
func (s *Service) List() []*entry.Entry { return s.IDM.State.Entries(entry.OAuth2Client) }

// Delete removes a client.
func (s *Service) Delete(ctx context.Context, actor idm.Actor, id string) (uint64, error) {
	if err := s.mayManage(actor); err != nil {
		return 0, err
	}
	return s.IDM.Delete(ctx, actor, entry.OAuth2Client, id)
}

// Patch is what PATCH /v1/oauth2/{id} may change; nil leaves a field.
type Patch struct {
	DisplayName *string `json:"displayname"`
	Origin      *string `json:"origin"`
	Description *string `json:"description"`
}

// change runs an update of a client's settings through idm's
// compare-and-set loop, after this package's own rights check (clearer
// message than the generic one; idm checks again).
func (s *Service) change(ctx context.Context, actor idm.Actor, id string, fn func(e *entry.Entry, o *entry.OAuth2Settings) error) (*entry.Entry, uint64, error) {
	if err := s.mayManage(actor); err != nil {
		return nil, 0, err
	}
	if _, err := s.Get(id); err != nil {
		return nil, 0, err
	}
	return s.IDM.UpdateOAuth2Client(ctx, actor, id, func(e *entry.Entry) error {
		if e.OAuth2 == nil {
			return idm.Invalid("%s has no oauth2 settings", e.Name)
		}
		return fn(e, e.OAuth2)
	})
}

// Update changes the display name, origin or description.
func (s *Service) Update(ctx context.Context, actor idm.Actor, id string, p Patch) (*entry.Entry, uint64, error) {
	if p.DisplayName == nil && p.Origin == nil && p.Description == nil {
		return nil, 0, idm.Invalid("nothing to change: send displayname, origin or description")
	}
	return s.change(ctx, actor, id, func(e *entry.Entry, o *entry.OAuth2Settings) error {
		if p.DisplayName != nil {
			if *p.DisplayName == "" {
				return idm.Invalid("a client needs a display name")
			}
			e.DisplayName = *p.DisplayName
		}
		if p.Origin != nil {
			o.Origin = *p.Origin
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		return nil
	})
}

// AddRedirectURL registers a redirect URL (matched exactly by the
// provider; loopback URLs of public clients match on any port).
func (s *Service) AddRedirectURL(ctx context.Context, actor idm.Actor, id, url string) (*entry.Entry, uint64, error) {
	if err := entry.ValidateRedirectURI(url); err != nil {
		return nil, 0, idm.Invalid("%v", err)
	}
	return s.change(ctx, actor, id, func(_ *entry.Entry, o *entry.OAuth2Settings) error {
		if !slices.Contains(o.RedirectURIs, url) {
			o.RedirectURIs = append(o.RedirectURIs, url)
		}
		return nil
	})
}

// RemoveRedirectURL forgets a redirect URL.
func (s *Service) RemoveRedirectURL(ctx context.Context, actor idm.Actor, id, url string) (*entry.Entry, uint64, error) {
	return s.change(ctx, actor, id, func(e *entry.Entry, o *entry.OAuth2Settings) error {
		if !slices.Contains(o.RedirectURIs, url) {
			return idm.NotFound("%s has no redirect URL %q", e.Name, url)
		}
		o.RedirectURIs = slices.DeleteFunc(o.RedirectURIs, func(u string) bool { return u == url })
		return nil
	})
}

// group resolves a group reference (name, uuid or spn) to its uuid.
func (s *Service) group(ref string) (string, error) {
	g, ok := s.IDM.Lookup(ref)
	if !ok || g.Class != entry.Group {
		return "", idm.NotFound("no group named %q", ref)
	}
	return g.UUID, nil
}

func cleanScopes(scopes []string) ([]string, error) {
	var out []string
	for _, sc := range scopes {
		// "openid profile" as one argument is read as two scopes.
		for _, f := range strings.FieldsFunc(sc, func(r rune) bool { return r == ' ' || r == ',' }) {
			if err := entry.ValidScope(f); err != nil {
				return nil, idm.Invalid("%v", err)
			}
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, idm.Invalid("no scopes given: to remove a scope map, delete it")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// SetScopeMap sets the scopes a group's members may be granted (sup=false)
// or are granted in addition (sup=true, the supplementary scope map).
func (s *Service) SetScopeMap(ctx context.Context, actor idm.Actor, id, groupRef string, scopes []string, sup bool) (*entry.Entry, uint64, error) {
	sc, err := cleanScopes(scopes)
	if err != nil {
		return nil, 0, err
	}
	g, err := s.group(groupRef)
	if err != nil {
		return nil, 0, err
	}
	return s.change(ctx, actor, id, func(_ *entry.Entry, o *entry.OAuth2Settings) error {
		maps := scopeMaps(o, sup)
		i := slices.IndexFunc(*maps, func(m entry.ScopeMap) bool { return m.Group == g })
		if i < 0 {
			*maps = append(*maps, entry.ScopeMap{Group: g, Scopes: sc})
		} else {
			(*maps)[i].Scopes = sc
		}
		return nil
	})
}

// DeleteScopeMap removes a group's (supplementary) scope map.
func (s *Service) DeleteScopeMap(ctx context.Context, actor idm.Actor, id, groupRef string, sup bool) (*entry.Entry, uint64, error) {
	g, err := s.group(groupRef)
	if err != nil {
		return nil, 0, err
	}
	return s.change(ctx, actor, id, func(e *entry.Entry, o *entry.OAuth2Settings) error {
		maps := scopeMaps(o, sup)
		n := len(*maps)
		*maps = slices.DeleteFunc(*maps, func(m entry.ScopeMap) bool { return m.Group == g })
		if len(*maps) == n {
			return idm.NotFound("%s has no scope map for group %q", e.Name, groupRef)
		}
		return nil
	})
}

func scopeMaps(o *entry.OAuth2Settings, sup bool) *[]entry.ScopeMap {
	if sup {
		return &o.SupScopeMaps
	}
	return &o.ScopeMaps
}

// SetClaimMap sets the values members of a group get in a custom claim. A
// new map of a claim that has others takes their join.
func (s *Service) SetClaimMap(ctx context.Context, actor idm.Actor, id, claim, groupRef string, values []string) (*entry.Entry, uint64, error) {
	if len(values) == 0 {
		return nil, 0, idm.Invalid("no values given: to remove a claim map, delete it")
	}
	g, err := s.group(groupRef)
	if err != nil {
		return nil, 0, err
	}
	vals := slices.Compact(slices.Clone(values))
	return s.change(ctx, actor, id, func(_ *entry.Entry, o *entry.OAuth2Settings) error {
		join := ""
		for _, m := range o.ClaimMaps {
			if m.Claim == claim {
				join = m.Join
			}
		}
		i := slices.IndexFunc(o.ClaimMaps, func(m entry.ClaimMap) bool { return m.Claim == claim && m.Group == g })
		if i < 0 {
			o.ClaimMaps = append(o.ClaimMaps, entry.ClaimMap{Claim: claim, Group: g, Values: vals, Join: join})
		} else {
			o.ClaimMaps[i].Values = vals
		}
		return nil
	})
}

// SetClaimJoin says how several values of a claim are sent: array, csv or
// ssv. It applies to every group's map of that claim.
func (s *Service) SetClaimJoin(ctx context.Context, actor idm.Actor, id, claim, join string) (*entry.Entry, uint64, error) {
	switch join {
	case "array", "csv", "ssv":
	default:
		return nil, 0, idm.Invalid("join %q is not array, csv or ssv", join)
	}
	return s.change(ctx, actor, id, func(e *entry.Entry, o *entry.OAuth2Settings) error {
		found := false
		for i := range o.ClaimMaps {
			if o.ClaimMaps[i].Claim == claim {
				o.ClaimMaps[i].Join, found = join, true
			}
		}
		if !found {
			return idm.NotFound("%s has no claim map for claim %q: add one first (update-claim-map)", e.Name, claim)
		}
		return nil
	})
}

// DeleteClaimMap removes a group's map of a claim.
func (s *Service) DeleteClaimMap(ctx context.Context, actor idm.Actor, id, claim, groupRef string) (*entry.Entry, uint64, error) {
	g, err := s.group(groupRef)
	if err != nil {
		return nil, 0, err
	}
	return s.change(ctx, actor, id, func(e *entry.Entry, o *entry.OAuth2Settings) error {
		n := len(o.ClaimMaps)
		o.ClaimMaps = slices.DeleteFunc(o.ClaimMaps, func(m entry.ClaimMap) bool { return m.Claim == claim && m.Group == g })
		if len(o.ClaimMaps) == n {
			return idm.NotFound("%s has no claim map of %q for group %q", e.Name, claim, groupRef)
		}
		return nil
	})
}

// ShowSecret opens a basic client's secret. Only those who may manage the
// client may see it.
func (s *Service) ShowSecret(actor idm.Actor, id string) (string, error) {
	if err := s.mayManage(actor); err != nil {
		return "", err
	}
	e, err := s.Get(id)
	if err != nil {
		return "", err
	}
	if e.OAuth2.Public || len(e.OAuth2.SealedSecret) == 0 {
		return "", idm.Invalid("%s is a public client: it has no secret", e.Name)
	}
	plain, err := s.Sealer.Open(e.OAuth2.SealedSecret, entry.OAuth2SecretAAD(e.UUID))
	if err != nil {
		return "", fmt.Errorf("open the secret of %s: %w", e.Name, err)
	}
	return string(plain), nil
}

// ResetSecret replaces a basic client's secret; the old one stops working
// on every node as soon as each has applied the change.
func (s *Service) ResetSecret(ctx context.Context, actor idm.Actor, id string) (string, uint64, error) {
	secret, err := newSecret()
	if err != nil {
		return "", 0, err
	}
	_, idx, err := s.change(ctx, actor, id, func(e *entry.Entry, o *entry.OAuth2Settings) error {
		if o.Public {
			return idm.Invalid("%s is a public client: it has no secret", e.Name)
		}
		sealed, err := s.sealSecret(e.UUID, secret)
		if err != nil {
			return err
		}
		o.SealedSecret = sealed
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return secret, idx, nil
}

// SetPKCE enables (the default) or disables PKCE for a basic client.
// Disabling is insecure (see docs/oauth2-clients.md); public clients
// always need PKCE.
func (s *Service) SetPKCE(ctx context.Context, actor idm.Actor, id string, enabled bool) (*entry.Entry, uint64, error) {
	return s.change(ctx, actor, id, func(e *entry.Entry, o *entry.OAuth2Settings) error {
		if o.Public && !enabled {
			return idm.Invalid("%s is a public client: PKCE is mandatory for public clients (RFC 7636)", e.Name)
		}
		o.PKCEDisabled = !enabled
		return nil
	})
}

// SetPreferShortUsername: preferred_username is the short name (true) or
// the spn (false, the default).
func (s *Service) SetPreferShortUsername(ctx context.Context, actor idm.Actor, id string, short bool) (*entry.Entry, uint64, error) {
	return s.change(ctx, actor, id, func(_ *entry.Entry, o *entry.OAuth2Settings) error {
		o.PreferShortUsername = short
		return nil
	})
}

// SetLegacyCrypto makes a client's tokens RS256 (enabled) or ES256. On
// enable the cluster gets an RS256 signing key first if it has none, so
// that the provider can sign for the client as soon as it sees the flag.
func (s *Service) SetLegacyCrypto(ctx context.Context, actor idm.Actor, id string, enabled bool) (*entry.Entry, uint64, error) {
	if err := s.mayManage(actor); err != nil {
		return nil, 0, err
	}
	if _, err := s.Get(id); err != nil {
		return nil, 0, err
	}
	if enabled {
		if err := s.EnsureRSAKey(ctx); err != nil {
			return nil, 0, err
		}
	}
	return s.change(ctx, actor, id, func(_ *entry.Entry, o *entry.OAuth2Settings) error {
		o.LegacyCrypto = enabled
		return nil
	})
}
