// Package oauth2 is the wire side of the OAuth2/OpenID Connect provider:
// discovery and JWKS, /oauth2/authorize with the login and consent glue
// and the consent page, the token, userinfo, introspection, revocation,
// end-session and device endpoints, the device user-code page, and the
// forwarding of a code exchange to the node that issued the code (rule 5).
//
// Request parsing, client-authentication plumbing and RFC 6749 error
// encoding come from zitadel/oidc's op package (op.RegisterServer with our
// own op.Server). Tokens are made here rather than by op's legacy Storage
// path: RFC 9068 wants access tokens typed "at+jwt" (op types them "JWT"),
// codes must name the node holding them, and client credentials must not
// build a signer per grant. Scope, claim, secret and Raft-write logic is in
// idm/oauth2. See docs/oauth2.md.
package oauth2
