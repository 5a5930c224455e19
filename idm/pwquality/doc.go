// Package pwquality decides whether a password is good enough
// (account-policy.txt): long enough for the account's resolved policy,
// given zxcvbn's top score (with the account's own name, mail and domain as
// known words), and not on the cluster's badlist. There are no composition
// or rotation rules, on purpose.
//
// It also preprocesses badlist uploads (Filter): a breached password that
// zxcvbn or the length rule already rejects would only make the badlist
// bigger, so only the passwords that would otherwise pass are kept.
//
// zxcvbn (github.com/trustelem/zxcvbn) gives a score and the matched
// patterns but no feedback text; feedback.go writes our own from the
// patterns.
package pwquality
