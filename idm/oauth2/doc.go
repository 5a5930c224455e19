// Package oauth2 is the identity side of the OAuth2/OpenID Connect
// provider: which scopes a person or service may get from a client, which
// claims go into tokens, client and service-account secrets (checked fast,
// from per-node caches), remembered consent, and the provider's few Raft
// writes (consent, refresh rotation, device grants, revocation) proposed
// through idm.Service's proposer. It knows nothing of HTTP; protocols/oauth2
// is the wire side.
package oauth2
