// Package policy resolves the account policy that applies to an account
// (account-policy.txt): policies live on groups, and an account in several
// groups gets the strictest value of each setting across the enabled ones.
//
// Resolution is a pure function of the policies (Resolve) so that login,
// credential update and the API all compute the same answer from a node's
// local state, without a Raft round trip (rule 4).
package policy
