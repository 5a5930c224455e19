package apiclient

import (
	"context"
	"net/http"
	"net/url"
)

// OAuth2Client is an OAuth2/OIDC client as the API shows it
// (docs/oauth2-clients.md).
type OAuth2Client struct {
	UUID                string           `json:"uuid"`
	Name                string           `json:"name"`
	DisplayName         string           `json:"displayname"`
	Description         string           `json:"description,omitempty"`
	Origin              string           `json:"origin"`
	Public              bool             `json:"public"`
	RedirectURLs        []string         `json:"redirect_urls"`
	ScopeMaps           []OAuth2ScopeMap `json:"scope_maps"`
	SupScopeMaps        []OAuth2ScopeMap `json:"sup_scope_maps"`
	ClaimMaps           []OAuth2ClaimMap `json:"claim_maps"`
	PKCE                bool             `json:"pkce"`
	LegacyCrypto        bool             `json:"legacy_crypto"`
	PreferShortUsername bool             `json:"prefer_short_username"`
	Version             uint64           `json:"version"`
	Created             string           `json:"created"`
	Updated             string           `json:"updated"`
	// Secret is set only in the answer of a basic client's creation.
	Secret string `json:"secret,omitempty"`
	// Warning explains the risk of a setting just made.
	Warning string `json:"warning,omitempty"`
}

// OAuth2ScopeMap grants scopes to a group's members.
type OAuth2ScopeMap struct {
	Group     string   `json:"group"`
	GroupUUID string   `json:"group_uuid"`
	Scopes    []string `json:"scopes"`
}

// OAuth2ClaimMap gives a group's members values in a custom claim.
type OAuth2ClaimMap struct {
	Claim     string   `json:"claim"`
	Group     string   `json:"group"`
	GroupUUID string   `json:"group_uuid"`
	Values    []string `json:"values"`
	Join      string   `json:"join"`
}

// OAuth2Patch changes a client's display name, origin or description.
type OAuth2Patch struct {
	DisplayName *string `json:"displayname,omitempty"`
	Origin      *string `json:"origin,omitempty"`
	Description *string `json:"description,omitempty"`
}

const pathOAuth2 = "/v1/oauth2"

func oauth2Path(id string, rest ...string) string {
	p := pathOAuth2 + "/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

func (c *Client) oauth2(ctx context.Context, method, path string, in any) (*OAuth2Client, error) {
	var o OAuth2Client
	if _, err := c.Do(ctx, method, path, in, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateOAuth2Client creates a basic (public=false; the answer carries its
// secret) or a public client.
func (c *Client) CreateOAuth2Client(ctx context.Context, name, displayName, origin string, public bool) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPost, pathOAuth2, map[string]any{"name": name, "displayname": displayName, "origin": origin, "public": public})
}

// GetOAuth2Client reads one client.
func (c *Client) GetOAuth2Client(ctx context.Context, id string) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodGet, oauth2Path(id), nil)
}

// ListOAuth2Clients reads every client.
func (c *Client) ListOAuth2Clients(ctx context.Context) ([]OAuth2Client, error) {
	var l struct {
		Clients []OAuth2Client `json:"clients"`
	}
	if _, err := c.Do(ctx, http.MethodGet, pathOAuth2, nil, &l); err != nil {
		return nil, err
	}
	return l.Clients, nil
}

// UpdateOAuth2Client changes the display name, origin or description.
func (c *Client) UpdateOAuth2Client(ctx context.Context, id string, p OAuth2Patch) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPatch, oauth2Path(id), p)
}

// DeleteOAuth2Client deletes a client.
func (c *Client) DeleteOAuth2Client(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, oauth2Path(id), nil, nil)
	return err
}

// AddOAuth2RedirectURL registers a redirect URL; RemoveOAuth2RedirectURL
// forgets one.
func (c *Client) AddOAuth2RedirectURL(ctx context.Context, id, u string) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPost, oauth2Path(id, "redirect_urls"), map[string]string{"url": u})
}

func (c *Client) RemoveOAuth2RedirectURL(ctx context.Context, id, u string) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodDelete, oauth2Path(id, "redirect_urls"), map[string]string{"url": u})
}

func scopeMapKind(sup bool) string {
	if sup {
		return "sup_scope_maps"
	}
	return "scope_maps"
}

// SetOAuth2ScopeMap sets a group's scope map (sup: the supplementary one).
func (c *Client) SetOAuth2ScopeMap(ctx context.Context, id, group string, scopes []string, sup bool) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPost, oauth2Path(id, scopeMapKind(sup), group), map[string]any{"scopes": scopes})
}

// DeleteOAuth2ScopeMap removes a group's scope map.
func (c *Client) DeleteOAuth2ScopeMap(ctx context.Context, id, group string, sup bool) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodDelete, oauth2Path(id, scopeMapKind(sup), group), nil)
}

// SetOAuth2ClaimMap sets the values a group's members get in claim.
func (c *Client) SetOAuth2ClaimMap(ctx context.Context, id, claim, group string, values []string) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPost, oauth2Path(id, "claim_maps", claim, group), map[string]any{"values": values})
}

// SetOAuth2ClaimJoin sets how several values of claim are sent: array, csv or ssv.
func (c *Client) SetOAuth2ClaimJoin(ctx context.Context, id, claim, join string) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPost, oauth2Path(id, "claim_maps", claim, "join"), map[string]string{"join": join})
}

// DeleteOAuth2ClaimMap removes a group's map of claim.
func (c *Client) DeleteOAuth2ClaimMap(ctx context.Context, id, claim, group string) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodDelete, oauth2Path(id, "claim_maps", claim, group), nil)
}

// OAuth2Secret is a basic client's secret.
type OAuth2Secret struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

// ShowOAuth2Secret reveals a basic client's secret; ResetOAuth2Secret
// replaces it with a new one.
func (c *Client) ShowOAuth2Secret(ctx context.Context, id string) (string, error) {
	return c.oauth2Secret(ctx, http.MethodGet, id)
}

func (c *Client) ResetOAuth2Secret(ctx context.Context, id string) (string, error) {
	return c.oauth2Secret(ctx, http.MethodPost, id)
}

func (c *Client) oauth2Secret(ctx context.Context, method, id string) (string, error) {
	var s OAuth2Secret
	if _, err := c.Do(ctx, method, oauth2Path(id, "basic_secret"), nil, &s); err != nil {
		return "", err
	}
	return s.Secret, nil
}

// SetOAuth2PKCE enables or (insecurely) disables PKCE for a basic client.
func (c *Client) SetOAuth2PKCE(ctx context.Context, id string, enabled bool) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPost, oauth2Path(id, "pkce"), map[string]bool{"enabled": enabled})
}

// SetOAuth2LegacyCrypto makes a client's tokens RS256 (true) or ES256.
func (c *Client) SetOAuth2LegacyCrypto(ctx context.Context, id string, enabled bool) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPost, oauth2Path(id, "legacy_crypto"), map[string]bool{"enabled": enabled})
}

// SetOAuth2PreferShortUsername: preferred_username is the short name
// (true) or the spn (false).
func (c *Client) SetOAuth2PreferShortUsername(ctx context.Context, id string, short bool) (*OAuth2Client, error) {
	return c.oauth2(ctx, http.MethodPost, oauth2Path(id, "username"), map[string]bool{"prefer_short": short})
}

// RotateOAuth2Keys adds a new ES256 signing key (and a new RS256 one if
// the cluster has RS256 keys) and returns their kids.
func (c *Client) RotateOAuth2Keys(ctx context.Context) ([]string, error) {
	var r struct {
		Added []string `json:"added"`
	}
	if _, err := c.Do(ctx, http.MethodPost, pathOAuth2+"/_keys/rotate", nil, &r); err != nil {
		return nil, err
	}
	return r.Added, nil
}
