// Package idm is the identity service: it turns requests into validated,
// fully generated commands (uuids, times, hashes), checks who may do what,
// proposes them through the cluster and reads answers from the local state.
// The pure model lives in idm/entry; password hashing in idm/password;
// session tokens in idm/token; the login state machine in idm/auth.
package idm
