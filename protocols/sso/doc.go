// Package sso runs logins through upstream identity providers (OIDC,
// OAuth2, SAML 2.0, LDAP) on the node's HTTPS listener: the begin
// redirect, the OIDC/OAuth2 callback, the SAML metadata and assertion
// consumer service, the LDAP login with its local second factor, and the
// public list of login options. The providers and the account decisions
// (JIT creation, linking, overrides) come from idm/sso through Directory;
// the protocol work from protocols/upstream/{oidcup,samlsp,ldapup}.
//
// Nothing of an in-flight login is kept on the node that began it (rule
// 5): the flow state is sealed under the cluster encryption key into a
// cookie, the request names it by a random id, and a cluster-wide one-time
// claim (authguard.ClaimOnce) spends it. See docs/sso-login.md.
package sso
