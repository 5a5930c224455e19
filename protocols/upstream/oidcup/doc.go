// Package oidcup is the relying-party side of an upstream login through an
// OpenID Connect provider (discovery, ID token) or a plain OAuth2 provider
// (fixed endpoints, JSON user info), as the login owner drives it:
//
//	p, _ := oidcup.NewOIDC(ctx, cfg)          // or NewOAuth2(cfg)
//	url := p.AuthCodeURL(state, nonce, verifier) // PKCE S256 always
//	code, state, err := oidcup.ParseCallback(r.URL.Query())
//	id, err := p.Exchange(ctx, code, verifier, nonce)
//
// The caller owns state, nonce and the PKCE verifier (sealed into the state
// so the callback completes on any node); this package owns the protocol
// checks.
//
// Decisions:
//   - Issuer: the issuer in the discovery document must equal the configured
//     one byte for byte; a mismatch is reported with both values and what
//     differed (usually a trailing slash), never papered over. When the
//     configured URL is the full .well-known URL the configured issuer is its
//     prefix; the discovery spec strips a trailing "/" from the issuer before
//     appending /.well-known/openid-configuration, so such a URL cannot say
//     whether the issuer ends in "/" and both forms are accepted there.
//   - Algorithms: only asymmetric signatures (RS*, ES*, PS*, EdDSA). The JOSE
//     header is read before any key lookup so that HS256 and none are refused
//     with "Invalid signature algorithm HS256" (the seed's message), because
//     anyone holding the client secret can forge an HS256 token.
//   - Claims: ID token claims win over user-info claims (they are signed);
//     user info only fills gaps, and its sub must equal the ID token's.
//   - User info: when the provider has an endpoint, a failure to fetch it
//     fails the login; a half-known user would get a different username
//     than on the next login.
//   - Client authentication: OIDC uses what discovery lists
//     (client_secret_basic by default); plain OAuth2 lets x/oauth2 detect it.
//   - MFA: amr holding a factor other than a password (mfa, mca, otp, sms,
//     tel, hwk, swk, sc, fpt, face, iris, retina, vbm), or acr containing
//     "mfa" or "multi". "pin" alone is another knowledge factor and does not
//     count (with a key it arrives as hwk/swk, which does).
//   - Plain OAuth2 has no issuer to check: an id_token in its token response
//     is verified (signature, audience, nonce, expiry, alg) only when a JWKS
//     URL is configured, and ignored otherwise.
package oidcup
