// Package apiclienttest is an in-memory stand-in for a few routes of the
// Gatehouse JSON API, so the client and the CLI can be tested in
// milliseconds without a cluster. It follows docs/api.md for shapes, status
// codes and headers but enforces no access control and no schema: it is a
// test double for the client, never a reference for the server.
package apiclienttest
