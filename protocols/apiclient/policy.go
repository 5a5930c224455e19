package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// Policy is a group's own account policy (docs/account-policy.md); a zero
// value means "not set by this group".
type Policy struct {
	Enabled               bool   `json:"enabled"`
	AuthExpiry            int64  `json:"auth_expiry,omitempty"`
	CredentialTypeMinimum string `json:"credential_type_minimum,omitempty"`
	PasswordMinimumLength int    `json:"password_minimum_length,omitempty"`
	PrivilegeExpiry       int64  `json:"privilege_expiry,omitempty"`
	// WebauthnAttestationCAList is the stored list ({"cas":{…}}), or empty.
	WebauthnAttestationCAList json.RawMessage `json:"webauthn_attestation_ca_list,omitempty"`
}

// GroupPolicy is the answer of the group account-policy routes.
type GroupPolicy struct {
	Group  string `json:"group"`
	UUID   string `json:"uuid"`
	Policy Policy `json:"policy"`
	// Notice says what was stored differently from what was asked (a
	// privilege expiry above the maximum).
	Notice string `json:"notice,omitempty"`
}

// ResolvedPolicy is the policy that applies to an account (seconds).
type ResolvedPolicy struct {
	Account                   string          `json:"account"`
	UUID                      string          `json:"uuid"`
	AuthExpiry                int64           `json:"auth_expiry"`
	CredentialTypeMinimum     string          `json:"credential_type_minimum"`
	PasswordMinimumLength     int             `json:"password_minimum_length"`
	PrivilegeExpiry           int64           `json:"privilege_expiry"`
	WebauthnAttestationCAList json.RawMessage `json:"webauthn_attestation_ca_list"`
	Groups                    []string        `json:"groups"`
}

// Badlist is the whole password badlist.
type Badlist struct {
	Count     int      `json:"count"`
	Passwords []string `json:"passwords"`
}

const pathBadlist = "/v1/system/pw_badlist"

func groupPolicyPath(group string) string { return entryPath(pathGroup, group) + "/account_policy" }

// GroupPolicy reads a group's own account policy.
func (c *Client) GroupPolicy(ctx context.Context, group string) (*GroupPolicy, error) {
	return c.groupPolicy(ctx, http.MethodGet, group, nil)
}

// EnableGroupPolicy enables account policy on a group.
func (c *Client) EnableGroupPolicy(ctx context.Context, group string) (*GroupPolicy, error) {
	return c.ChangeGroupPolicy(ctx, group, "enable", true)
}

// ChangeGroupPolicy sets one setting of a group's enabled policy: field is
// auth_expiry, credential_type_minimum, password_minimum_length,
// privilege_expiry or webauthn_attestation_ca_list (value then being the
// fido-mds-tool JSON as a json.RawMessage), or enable.
func (c *Client) ChangeGroupPolicy(ctx context.Context, group, field string, value any) (*GroupPolicy, error) {
	return c.groupPolicy(ctx, http.MethodPost, group, map[string]any{field: value})
}

func (c *Client) groupPolicy(ctx context.Context, method, group string, in any) (*GroupPolicy, error) {
	var p GroupPolicy
	if _, err := c.Do(ctx, method, groupPolicyPath(group), in, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// AccountPolicy reads the policy an account resolves to across its groups.
func (c *Client) AccountPolicy(ctx context.Context, account string) (*ResolvedPolicy, error) {
	var p ResolvedPolicy
	if _, err := c.Do(ctx, http.MethodGet, "/v1/account/"+url.PathEscape(account)+"/policy", nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// Badlist reads the password badlist.
func (c *Client) Badlist(ctx context.Context) (*Badlist, error) {
	var b Badlist
	if _, err := c.Do(ctx, http.MethodGet, pathBadlist, nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// AppendBadlist adds passwords (the server lower-cases them) and returns
// how many were new. Callers keep each call under the server's body limit:
// the CLI sends at most 20,000 passwords and 768 KiB at a time.
func (c *Client) AppendBadlist(ctx context.Context, passwords []string) (int, error) {
	var out struct {
		Added int `json:"added"`
	}
	if _, err := c.Do(ctx, http.MethodPost, pathBadlist, map[string][]string{"passwords": passwords}, &out); err != nil {
		return 0, err
	}
	return out.Added, nil
}
