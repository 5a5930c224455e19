// Package oidcuptest is a small, honest OpenID Connect / OAuth2 provider
// for tests of the upstream-login side: discovery, JWKS, an /authorize that
// logs in a configured user without asking, a token endpoint that checks
// client credentials (basic or post), PKCE S256 and single-use codes, and
// user info. Knobs produce the failures the relying party must refuse
// (HS256 or unsigned ID tokens, a trailing-slash issuer, altered claims).
//
// It is a test double, not a conformance reference: acceptance tests that
// need an independent implementation use a second provider.
package oidcuptest
