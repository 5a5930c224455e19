// Package api is the HTTPS JSON surface under /v1 (docs/api.md), plus
// /status. Every handler has one shape: it receives the request and the
// authenticated actor and returns a status, a body and, for writes, the
// Raft index at which the change committed.
package api
