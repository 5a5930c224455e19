package apiclient

import (
	"context"
	"net/http"
	"net/url"
)

// SSOProvider is an upstream identity provider as the API shows it
// (docs/sso.md); secrets appear only as Has* flags.
type SSOProvider struct {
	UUID              string `json:"uuid"`
	Name              string `json:"name"`
	Type              string `json:"type"`
	Enabled           bool   `json:"enabled"`
	AutoCreate        *bool  `json:"auto_create"`
	AutoEnable        *bool  `json:"auto_enable"`
	MFATrusted        bool   `json:"mfa_trusted"`
	UsernameAttribute string `json:"username_attribute,omitempty"`

	ClientID        string   `json:"client_id,omitempty"`
	HasClientSecret bool     `json:"has_client_secret,omitempty"`
	DiscoveryURL    string   `json:"discovery_url,omitempty"`
	Scopes          []string `json:"scopes,omitempty"`
	AuthURL         string   `json:"auth_url,omitempty"`
	TokenURL        string   `json:"token_url,omitempty"`
	UserInfoURL     string   `json:"userinfo_url,omitempty"`
	JWKSURL         string   `json:"jwks_url,omitempty"`
	TrustEmail      bool     `json:"trust_email,omitempty"`
	CallbackURL     string   `json:"callback_url,omitempty"`

	URL              string `json:"url,omitempty"`
	BindDN           string `json:"bind_dn,omitempty"`
	HasBindPassword  bool   `json:"has_bind_password,omitempty"`
	BaseDN           string `json:"base_dn,omitempty"`
	UserFilter       string `json:"user_filter,omitempty"`
	EmailAttribute   string `json:"email_attribute,omitempty"`
	DisplayAttribute string `json:"display_attribute,omitempty"`
	StartTLS         bool   `json:"start_tls,omitempty"`
	CACert           string `json:"ca_cert,omitempty"`
	SkipVerify       bool   `json:"skip_verify,omitempty"`

	SPEntityID                 string `json:"sp_entity_id,omitempty"`
	IdPEntityID                string `json:"idp_entity_id,omitempty"`
	IdPSSOURL                  string `json:"idp_sso_url,omitempty"`
	IdPCert                    string `json:"idp_cert,omitempty"`
	SPCert                     string `json:"sp_cert,omitempty"`
	HasSPKey                   bool   `json:"has_sp_key,omitempty"`
	AllowUnsignedAssertions    bool   `json:"allow_unsigned_assertions,omitempty"`
	RequireEncryptedAssertions bool   `json:"require_encrypted_assertions,omitempty"`
	ACSURL                     string `json:"acs_url,omitempty"`
	MetadataURL                string `json:"metadata_url,omitempty"`

	Warnings []string `json:"warnings,omitempty"`
	Version  uint64   `json:"version"`
	Created  int64    `json:"created"`
	Updated  int64    `json:"updated"`
}

// SSOProviderInput creates or changes a provider: only the keys present
// are sent. Overrides (auto_create, auto_enable) take true, false or
// "default"; secrets (client_secret, bind_password, sp_key) are write-only.
type SSOProviderInput map[string]any

// SSOCheck is one line of a connection test.
type SSOCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// SSOTest is the answer of a connection test.
type SSOTest struct {
	Provider string     `json:"provider"`
	UUID     string     `json:"uuid"`
	OK       bool       `json:"ok"`
	Checks   []SSOCheck `json:"checks"`
}

// SSOSettings are the global SSO settings.
type SSOSettings struct {
	LocalAuth  bool   `json:"local_auth"`
	AutoCreate bool   `json:"auto_create"`
	AutoEnable bool   `json:"auto_enable"`
	Warning    string `json:"warning,omitempty"`
}

// SSOSettingsInput changes the global settings; nil leaves a value.
type SSOSettingsInput struct {
	LocalAuth  *bool `json:"local_auth,omitempty"`
	AutoCreate *bool `json:"auto_create,omitempty"`
	AutoEnable *bool `json:"auto_enable,omitempty"`
}

// SSOIdentity is one linked upstream identity.
type SSOIdentity struct {
	Provider     string `json:"provider"`
	ProviderName string `json:"provider_name"`
	ProviderType string `json:"provider_type,omitempty"`
	Subject      string `json:"subject"`
	Email        string `json:"email,omitempty"`
	Linked       int64  `json:"linked"`
}

// SSOOverrides are an account's per-user overrides (nil: follow the
// global setting).
type SSOOverrides struct {
	LocalAuth *bool  `json:"local_auth,omitempty"`
	SSOAuth   *bool  `json:"sso_auth,omitempty"`
	Note      string `json:"note,omitempty"`
}

// AccountSSO is an account's SSO standing.
type AccountSSO struct {
	Account      string        `json:"account"`
	UUID         string        `json:"uuid"`
	Identities   []SSOIdentity `json:"identities"`
	Overrides    SSOOverrides  `json:"overrides"`
	LocalAllowed bool          `json:"local_allowed"`
	SSOAllowed   bool          `json:"sso_allowed"`
	Pending      bool          `json:"pending,omitempty"`
	HasPassword  bool          `json:"has_password"`
	HasPasskey   bool          `json:"has_passkey"`
}

// SSOOverridesInput changes overrides: "on", "off" or "default" for each
// switch ("" leaves it); Note nil leaves the note.
type SSOOverridesInput struct {
	LocalAuth string  `json:"local_auth,omitempty"`
	SSO       string  `json:"sso,omitempty"`
	Note      *string `json:"note,omitempty"`
}

const pathSSOProviders = "/v1/sso/providers"

func ssoProviderPath(id string) string { return pathSSOProviders + "/" + url.PathEscape(id) }

// SSOProviders lists the providers.
func (c *Client) SSOProviders(ctx context.Context) ([]SSOProvider, error) {
	var out struct {
		Providers []SSOProvider `json:"providers"`
	}
	_, err := c.Do(ctx, http.MethodGet, pathSSOProviders, nil, &out)
	return out.Providers, err
}

// SSOProvider reads one provider by uuid or name.
func (c *Client) SSOProvider(ctx context.Context, id string) (*SSOProvider, error) {
	var out SSOProvider
	if _, err := c.Do(ctx, http.MethodGet, ssoProviderPath(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateSSOProvider creates a provider.
func (c *Client) CreateSSOProvider(ctx context.Context, in SSOProviderInput) (*SSOProvider, error) {
	var out SSOProvider
	if _, err := c.Do(ctx, http.MethodPost, pathSSOProviders, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateSSOProvider changes a provider.
func (c *Client) UpdateSSOProvider(ctx context.Context, id string, in SSOProviderInput) (*SSOProvider, error) {
	var out SSOProvider
	if _, err := c.Do(ctx, http.MethodPatch, ssoProviderPath(id), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSSOProvider deletes a provider; unlink also removes the links of
// every account to it (otherwise linked accounts make it refuse). It
// returns how many accounts lost a link.
func (c *Client) DeleteSSOProvider(ctx context.Context, id string, unlink bool) (int, error) {
	p := ssoProviderPath(id)
	if unlink {
		p += "?unlink=true"
	}
	var out struct {
		Unlinked int `json:"unlinked"`
	}
	_, err := c.Do(ctx, http.MethodDelete, p, nil, &out)
	return out.Unlinked, err
}

// TestSSOProvider runs a provider's connection test.
func (c *Client) TestSSOProvider(ctx context.Context, id string) (*SSOTest, error) {
	var out SSOTest
	if _, err := c.Do(ctx, http.MethodPost, ssoProviderPath(id)+"/test", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SSOSettings reads the global settings.
func (c *Client) SSOSettings(ctx context.Context) (*SSOSettings, error) {
	var out SSOSettings
	if _, err := c.Do(ctx, http.MethodGet, "/v1/sso/settings", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetSSOSettings changes the global settings.
func (c *Client) SetSSOSettings(ctx context.Context, in SSOSettingsInput) (*SSOSettings, error) {
	var out SSOSettings
	if _, err := c.Do(ctx, http.MethodPatch, "/v1/sso/settings", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func personSSOPath(person string) string { return "/v1/person/" + url.PathEscape(person) + "/sso" }

// PersonSSO reads a person's linked identities and overrides.
func (c *Client) PersonSSO(ctx context.Context, person string) (*AccountSSO, error) {
	var out AccountSSO
	if _, err := c.Do(ctx, http.MethodGet, personSSOPath(person), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UnlinkSSO removes a linked identity (provider by uuid or name).
func (c *Client) UnlinkSSO(ctx context.Context, person, provider, subject string) (*AccountSSO, error) {
	var out AccountSSO
	p := personSSOPath(person) + "/" + url.PathEscape(provider) + "/" + url.PathEscape(subject)
	if _, err := c.Do(ctx, http.MethodDelete, p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetSSOOverrides changes a person's overrides.
func (c *Client) SetSSOOverrides(ctx context.Context, person string, in SSOOverridesInput) (*AccountSSO, error) {
	var out AccountSSO
	if _, err := c.Do(ctx, http.MethodPatch, personSSOPath(person)+"/overrides", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
