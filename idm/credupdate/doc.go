// Package credupdate holds credential-update sessions: a person (logged in
// with a read-write session, or holding a one-time reset token an admin
// issued) edits a working copy of their credentials — password, TOTP,
// passkeys, security keys — and commits the result as one credential.commit
// command in the log.
//
// Sessions are ephemeral state with an owner (rule 5 of PRODUCT.md): they
// live in memory on the node that opened them, their ids are
// "<nodeid>.<random>", and other nodes forward requests for them to that
// node (protocols/api). A node restart loses its open sessions and nothing
// else: nothing is written until the commit.
//
// Everything secret is made here, on the proposing node, before it enters
// the log (rules 2 and 3): argon2id password hashes, sealed TOTP secrets,
// verified WebAuthn public keys.
package credupdate
