package auth

import (
	"context"
	"errors"
)

// TOTP outcomes of CheckTOTP.
var (
	// ErrTOTPWrong: no generator of the account matches the code, or the
	// account does not exist.
	ErrTOTPWrong = errors.New("wrong authenticator code")
	// ErrTOTPReplayed: the code matched but its time step was already used
	// on some node (here, in a stepped login, or in another upstream login).
	ErrTOTPReplayed = errors.New("authenticator code already used")
	// ErrTOTPLocked: the account's TOTP soft lock is engaged.
	ErrTOTPLocked = errors.New("too many failed attempts")
)

// CheckTOTP checks a TOTP code of the account with this uuid exactly as
// the stepped login's TOTP factor does, because it is that factor: the
// same soft-lock key and schedule, the same constant-time window check,
// and the same cluster-wide step claim, so a code accepted here is spent
// for stepped logins too and the reverse. protocols/sso's LDAP login (the
// seed's "LDAP + local MFA") uses it for its second factor instead of a
// copy of the loop. nil means the code passed.
func (e *Engine) CheckTOTP(ctx context.Context, accountUUID string, code Code) error {
	if accountUUID == "" {
		return ErrTOTPWrong
	}
	v, err := e.totp(ctx, &inflight{account: accountUUID}, code)
	if err != nil {
		return err
	}
	switch v {
	case passed:
		return nil
	case locked:
		return ErrTOTPLocked
	case replayed:
		return ErrTOTPReplayed
	}
	return ErrTOTPWrong
}
