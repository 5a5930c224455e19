// Package sso is the model side of login through upstream identity
// providers (OIDC, OAuth2, LDAP, SAML): provider records with their secrets
// sealed under the cluster encryption key, the global SSO settings,
// per-user overrides, linking and unlinking upstream identities, and
// Resolve, the just-in-time account rules a finished upstream login runs
// through. The login flows themselves live in protocols/sso; the protocol
// libraries in protocols/upstream/*. See docs/sso.md.
package sso
