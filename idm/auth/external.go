package auth

import (
	"context"
	"errors"
	"fmt"

	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
)

// ErrDisabled: the account is disabled; no mechanism may log it in.
var ErrDisabled = errors.New(DeniedDisabled)

// ErrBelowPolicy: the mechanism's credential type is below the account's
// resolved credential-type minimum.
var ErrBelowPolicy = errors.New("the account's policy requires a stronger credential than this login mechanism")

// IssueExternal issues a session for a login proven outside the stepped
// engine (a Kerberos ticket checked by protocols/spnego): the same token
// as a stepped login gives — new session id, mech as its mechanism,
// read-only, expiring after the account's resolved auth expiry — recorded
// through Record and reported to Observe. The caller has already mapped
// the proof to acct. issue is "", "token" or "cookie" (how the caller
// hands the token over; it only checks the value here). A disabled
// account answers ErrDisabled, a mechanism below the account's
// credential-type minimum ErrBelowPolicy, each wrapped with the account
// and reason.
func (e *Engine) IssueExternal(ctx context.Context, acct *entry.Entry, mech string, issue string) (string, time.Time, error) {
	switch issue {
	case "", IssueToken, IssueCookie:
	default:
		return "", time.Time{}, ErrBadStep
	}
	if acct == nil || acct.Class == entry.Group || mech == "" {
		return "", time.Time{}, ErrBadStep
	}
	// The replica's current entry: a disable or a policy change that
	// landed after the caller looked the account up counts.
	cur, ok := e.State.Entry(acct.UUID)
	if !ok {
		return "", time.Time{}, ErrBadStep // deleted meanwhile
	}
	acct = cur
	if acct.Disabled {
		e.observeExternal(acct.Name, mech, "disabled")
		return "", time.Time{}, fmt.Errorf("account %s: %w", acct.Name, ErrDisabled)
	}
	pol := policy.ForAccount(e.State, acct.UUID)
	have := entry.MechCredType(mech)
	if entry.CredRank(have) < entry.CredRank(pol.CredentialTypeMinimum) {
		e.observeExternal(acct.Name, mech, "failure")
		return "", time.Time{}, fmt.Errorf("account %s needs credential type %s or stronger, and a %s login proves %s: %w",
			acct.Name, pol.CredentialTypeMinimum, mech, have, ErrBelowPolicy)
	}
	tok, c, err := e.newSession(acct, mech, pol, e.Now())
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue a session for %s: %w", acct.Name, err)
	}
	e.observeExternal(acct.Name, mech, "success")
	return tok, c.Expiry.Time(), nil
}

func (e *Engine) observeExternal(account, mech, result string) {
	if e.Observe != nil {
		e.Observe(account, mech, result, "")
	}
}
