package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
	"github.com/gatehouse-idm/gatehouse/idm/token"
)

// Reauthentication of sessions made outside the stepped engine (upstream
// SSO, Kerberos). The stepped reauth (BeginReauth) repeats the session's
// own mechanism; an upstream or Kerberos proof cannot be repeated through
// /v1/auth, so the protocol that checks it (protocols/sso, the SPNEGO
// endpoint) calls ReauthExternal with a fresh proof instead.

// Audit results of an external reauthentication: distinct from a login's
// success/failure so that metrics and the audit tell the two apart.
const (
	ResultReauthSuccess  = "reauth_success"
	ResultReauthFailure  = "reauth_failure"
	ResultReauthDisabled = "reauth_disabled"
)

// ErrReauthExternal is matched (errors.Is) by every *ReauthExternalError.
var ErrReauthExternal = errors.New("this session was made by an external login")

// ReauthExternalError is BeginReauth's answer for a session whose
// mechanism is external: the client must confirm through the protocol
// that made it. Its message says how.
type ReauthExternalError struct{ Mechanism string }

func (e *ReauthExternalError) Error() string {
	if e.Mechanism == entry.MechKerberos {
		return "this session was made by a Kerberos login: confirm with Kerberos to make changes"
	}
	return "this session was made by a single sign-on login: confirm your sign-in through your identity provider to make changes"
}

// Is makes errors.Is(err, ErrReauthExternal) hold.
func (e *ReauthExternalError) Is(target error) bool { return target == ErrReauthExternal }

// Errors of ReauthExternal beyond ErrDisabled, ErrBelowPolicy and ErrBadStep.
var (
	// ErrReauthAccount: the proof is for another account than the session's.
	ErrReauthAccount = errors.New("the sign-in you confirmed with is not the account of this session")
	// ErrReauthSession: the session has expired, was revoked, or began
	// before its account's credentials were reset.
	ErrReauthSession = errors.New("this session has ended (expired, logged out or revoked); log in again")
	// ErrReauthWeaker: the proof is of a weaker credential type than the
	// login that made the session.
	ErrReauthWeaker = errors.New("the confirmation is weaker than the login that made this session")
)

// ExternalMech reports whether mech is proven outside the stepped engine
// (upstream SSO, Kerberos), so that only ReauthExternal can reauthenticate
// its sessions.
func ExternalMech(mech string) bool {
	switch mech {
	case entry.MechSSO, entry.MechSSOMFA, entry.MechKerberos:
		return true
	}
	return false
}

// ReauthExternal opens the write window of the session claims after a
// fresh external proof (mech: sso, sso_mfa or kerberos) that the caller
// has already mapped to acct. The proof must name the session's own
// account; the session must be live (not expired, not revoked, not older
// than a credential reset); the account (re-read from the replica) must
// not be disabled; mech must rank at least as high as the session's own
// mechanism and meet the account's credential-type minimum. The answer is
// the same session (same id, same expiry, same MinIndex) re-signed with
// RWUntil = min(now + resolved privilege expiry, expiry), exactly as a
// stepped reauthentication gives; no new session record. issue is "",
// "token" or "cookie" (checked only, as in IssueExternal).
func (e *Engine) ReauthExternal(ctx context.Context, claims *token.Claims, acct *entry.Entry, mech string, issue string) (string, time.Time, error) {
	switch issue {
	case "", IssueToken, IssueCookie:
	default:
		return "", time.Time{}, ErrBadStep
	}
	if claims == nil || claims.Expiry == nil || acct == nil || acct.Class == entry.Group || !ExternalMech(mech) {
		return "", time.Time{}, ErrBadStep
	}
	if claims.Subject != acct.UUID {
		e.observeExternal(acct.Name, mech, ResultReauthFailure)
		return "", time.Time{}, fmt.Errorf("account %s: %w", acct.Name, ErrReauthAccount)
	}
	cur, ok := e.State.Entry(acct.UUID)
	if !ok || cur.Class == entry.Group {
		return "", time.Time{}, ErrBadStep // deleted meanwhile
	}
	acct = cur
	now := e.Now()
	exp := claims.Expiry.Time()
	if !now.Before(exp) || e.State.IsRevoked(claims.SessionID) || resetSince(acct, claims) {
		e.observeExternal(acct.Name, mech, ResultReauthFailure)
		return "", time.Time{}, fmt.Errorf("session of %s: %w", acct.Name, ErrReauthSession)
	}
	if acct.Disabled {
		e.observeExternal(acct.Name, mech, ResultReauthDisabled)
		return "", time.Time{}, fmt.Errorf("account %s: %w", acct.Name, ErrDisabled)
	}
	have, was := entry.MechCredType(mech), entry.MechCredType(claims.Mechanism)
	if entry.CredRank(have) < entry.CredRank(was) {
		e.observeExternal(acct.Name, mech, ResultReauthFailure)
		return "", time.Time{}, fmt.Errorf("the session of %s was made with %s (%s), and a %s login proves only %s: %w",
			acct.Name, claims.Mechanism, was, mech, have, ErrReauthWeaker)
	}
	pol := policy.ForAccount(e.State, acct.UUID)
	if entry.CredRank(have) < entry.CredRank(pol.CredentialTypeMinimum) {
		e.observeExternal(acct.Name, mech, ResultReauthFailure)
		return "", time.Time{}, fmt.Errorf("account %s needs credential type %s or stronger, and a %s login proves %s: %w",
			acct.Name, pol.CredentialTypeMinimum, mech, have, ErrBelowPolicy)
	}
	c := *claims
	c.RWUntil = writeWindow(now, exp, pol)
	tok, err := e.Signer.Sign(c)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("re-sign the session of %s: %w", acct.Name, err)
	}
	e.observeExternal(acct.Name, mech, ResultReauthSuccess)
	return tok, exp, nil
}

// resetSince: the account's credentials were reset after the session
// began (whole seconds, as the API's session check counts them).
func resetSince(a *entry.Entry, c *token.Claims) bool {
	nb := a.SessionsNotBefore
	return nb > 0 && c.IssuedAt != nil && c.IssuedAt.Time().Unix() < nb/1000
}

// VerifySession checks a session token as a reauthentication needs it:
// signed by the cluster, not expired, not revoked. Protocols that see the
// session only as a cookie (protocols/sso) use it to find the session
// being reauthenticated; the account checks are ReauthExternal's.
func (e *Engine) VerifySession(raw string) (*token.Claims, error) {
	c, err := e.Signer.Verify(raw, e.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReauthSession, err)
	}
	if e.State.IsRevoked(c.SessionID) {
		return nil, ErrReauthSession
	}
	return c, nil
}
