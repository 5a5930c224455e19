// Package apiclient is a small, general client for Gatehouse's JSON API
// (docs/api.md). The admin CLI, the integration tests and the load generator
// all use it, so it holds only transport concerns (TLS, bearer token, error
// decoding, the read-your-writes index) and one thin typed helper per route;
// it knows nothing about presentation.
//
// A Client is safe for concurrent use: the token and the highest commit
// index seen are guarded, so a load generator can share one Client across
// goroutines.
//
// TokenStore keeps the CLI's session tokens in a 0600 JSON file keyed by
// server URL.
package apiclient
