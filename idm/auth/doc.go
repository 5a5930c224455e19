// Package auth is the stepped login protocol (auth-protocol-rewrite.txt):
// init names the account, the server offers the mechanisms it may use
// under its credentials and resolved account policy, the client picks one,
// then the server asks for one factor at a time until success or denial.
//
// In-flight logins live in this node's memory (ephemeral state with an
// owner, rule 5): the login id names the node that holds it. Everything a
// login reads comes from the local replica, so logins work while the
// cluster has no leader (rule 4); the session record is proposed after
// the fact through Engine.Record. See DESIGN.md for the flows.
//
// Files: wire.go (the JSON of a step and a state), engine.go (dispatch and
// in-flight logins), password.go, totp.go, webauthn.go (one factor each),
// session.go (tokens and reauthentication).
package auth
