// Package upstream holds what every upstream identity provider type (OIDC,
// OAuth2, LDAP, SAML; one sub-package each) reports to the login: the
// identity it vouches for and, for "test connection", what worked.
package upstream

// Identity is a user as an upstream provider asserted it.
type Identity struct {
	// Subject is the provider's stable id for the user: OIDC sub, the
	// OAuth2 user-info id, the LDAP entry's DN (or entryUUID), the SAML
	// NameID.
	Subject string
	Email   string
	// EmailVerified: the provider says the address was verified (OIDC
	// email_verified); only a verified address links to an existing
	// account.
	EmailVerified bool
	DisplayName   string
	// MFA: the provider asserted a multi-factor login (OIDC amr/acr, SAML
	// AuthnContext). It counts only for providers marked MFA-trusted.
	MFA bool
	// Claims are every claim or attribute the provider sent, as strings or
	// []string, for the username fallbacks and claim-based settings.
	Claims map[string]any
}

// Check is one line of a "test connection" report.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}
