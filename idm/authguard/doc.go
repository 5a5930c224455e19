// Package authguard protects credentials against guessing, cluster-wide,
// without a Raft write per failed login (rule 4: logins never wait for the
// leader).
//
// Soft lock: failures are counted per credential (an account's password,
// its TOTP, its WebAuthn keys; an unknown name is keyed by the name so that
// its lock looks exactly like a real one). After Threshold failures inside
// Window the credential is locked for BaseLock, and every further failure
// doubles the lock up to MaxLock. Each failure is sent to every other node
// over the cluster channel (fire-and-forget), which merges it into its own
// table, so guesses spread over several nodes count as if made against one.
//
// TOTP replay: a (credential, time step) pair is claimed on this node and on
// every reachable peer before a code is accepted; a node that already holds
// the claim refuses, and so the login is refused.
package authguard
