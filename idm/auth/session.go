package auth

import (
	"slices"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/go-jose/go-jose/v4/jwt"
)

// finish ends a login whose factors all passed: a new read-only session,
// or for a reauthentication the same session with a write window.
func (e *Engine) finish(id string, s *inflight, remote string) (Response, error) {
	a, ok := e.account(s)
	if !ok {
		return e.deny(id, s, wrong, remote), nil
	}
	// Credentials or policy may have changed since init: the mechanism
	// must still be allowed now.
	allowed, pol := e.allowed(a)
	if !slices.Contains(allowed, s.mech) {
		return e.deny(id, s, wrong, remote), nil
	}
	// Told only to whoever proved the credentials: the account exists and
	// they hold it, but an administrator has stopped its logins.
	if a.Disabled {
		return e.deny(id, s, disabled, remote), nil
	}
	// Like a disabled account, told only after the credentials passed,
	// so the refusal reveals nothing to whoever does not hold them.
	if e.LocalAllowed != nil && !e.LocalAllowed(a) {
		return e.deny(id, s, localOff, remote), nil
	}
	now := e.Now()
	var c token.Claims
	if s.reauth != nil {
		c = *s.reauth
		exp := c.Expiry.Time()
		if c.Subject != a.UUID || !now.Before(exp) {
			return e.deny(id, s, wrong, remote), nil
		}
		c.RWUntil = writeWindow(now, exp, pol)
	}
	var (
		tok string
		err error
	)
	if s.reauth != nil {
		tok, err = e.Signer.Sign(c)
	} else {
		tok, c, err = e.newSession(a, s.mech, pol, now)
	}
	if err != nil {
		return Response{}, err
	}
	e.drop(id)
	e.observe(s, "success", remote)
	return Response{SessionID: id, State: State{Success: &tok}, Issue: s.issue, Expires: c.Expiry.Time().Unix()}, nil
}

// newSession signs the token of a new read-only session of account a,
// logged in with mech, expiring after the resolved auth expiry, and
// records the session. Stepped logins and IssueExternal both end here.
func (e *Engine) newSession(a *entry.Entry, mech string, pol policy.Resolved, now time.Time) (string, token.Claims, error) {
	sid, err := e.newID()
	if err != nil {
		return "", token.Claims{}, err
	}
	exp := now.Add(orDefault(pol.AuthExpiry, entry.DefaultAuthExpiry))
	c := token.Claims{
		Claims: jwt.Claims{Subject: a.UUID, IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp)},
		SessionID: sid, Name: a.Name, Mechanism: mech, MinIndex: a.Version,
	}
	tok, err := e.Signer.Sign(c)
	if err != nil {
		return "", token.Claims{}, err
	}
	if e.Record != nil {
		e.Record(fsm.Session{ID: sid, Account: a.UUID, Mechanism: mech, Issued: now.UnixMilli(),
			Expires: exp.UnixMilli(), Node: e.NodeID})
	}
	return tok, c, nil
}

// writeWindow is the RWUntil of a reauthentication at now of a session
// expiring at exp: the resolved privilege expiry from now, but never past
// the session's end (reauthentication never extends a session). Stepped
// and external reauthentications both use it.
func writeWindow(now, exp time.Time, pol policy.Resolved) int64 {
	rw := now.Add(orDefault(pol.PrivilegeExpiry, entry.DefaultPrivilegeExpiry))
	if rw.After(exp) {
		rw = exp
	}
	return rw.Unix()
}

func orDefault(d time.Duration, seconds int) time.Duration {
	if d > 0 {
		return d
	}
	return time.Duration(seconds) * time.Second
}

// BeginReauth starts a login bound to the session's account that offers
// only the mechanism the session was made with; its steps go through Step
// like any login. Success gives a token of the same session (same id, same
// expiry) that may write until now + the resolved privilege expiry. issue
// is the Request.Issue of the final answer ("cookie" for web pages).
func (e *Engine) BeginReauth(claims *token.Claims, issue string) (Response, error) {
	switch issue {
	case "", IssueToken, IssueCookie:
	default:
		return Response{}, ErrBadStep
	}
	a, ok := e.State.Entry(claims.Subject)
	if !ok || a.Class == entry.Group {
		return Response{}, ErrReauthUnavailable
	}
	// No stepped login can repeat an upstream or Kerberos proof: say
	// where to go instead (ReauthExternal).
	if ExternalMech(claims.Mechanism) {
		return Response{}, &ReauthExternalError{Mechanism: claims.Mechanism}
	}
	if allowed, _ := e.allowed(a); !slices.Contains(allowed, claims.Mechanism) {
		return Response{}, ErrReauthUnavailable
	}
	bound := *claims
	s := &inflight{account: a.UUID, name: a.Name, offered: []string{claims.Mechanism}, reauth: &bound, issue: issue}
	id, err := e.store(s)
	if err != nil {
		return Response{}, err
	}
	return Response{SessionID: id, State: State{Choose: []string{claims.Mechanism}}}, nil
}
