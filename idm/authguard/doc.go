// Package authguard protects credentials against guessing, cluster-wide,
// without a Raft write per failed login (rule 4: logins never wait for the
// leader).
//
// Soft lock: failures are counted per credential (an account's password,
// its TOTP, its WebAuthn keys; an unknown name is keyed by the name as the
// account lookup saw it, so that its lock looks exactly like a real one).
// After Threshold failures inside Window the credential is locked for
// BaseLock, and every further failure doubles the lock up to MaxLock. Each
// failure is sent to every other node over the cluster channel, which
// merges it into its own table, and Fail returns only once the peers have
// it, so guesses spread over several nodes count as if made against one.
//
// Concurrency: an attempt is reserved with Begin before its answer is
// checked and released after its Fail or Succeed. Begin refuses while
// failures + pending attempts reach Threshold, and after a lock one pending
// attempt at a time, so parallel guesses cannot all pass the check before
// the first failure lands.
//
// TOTP replay: a (credential, time step) pair is claimed on this node and on
// every reachable peer before a code is accepted. Claims are monotonic per
// credential: a node that already accepted this step or a later one
// refuses, and so the login is refused.
package authguard
