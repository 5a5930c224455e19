package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/password"
)

// password checks the password factor. The attempt is reserved with the
// guard first (authguard.Begin), so concurrent answers cannot all pass the
// lock check before any of them has failed; a locked credential is refused
// before any hashing. An unknown name is hashed against a dummy so that it
// costs the same and fails the same way.
func (e *Engine) password(ctx context.Context, s *inflight, pw string) (verdict, error) {
	var phc string
	var reset int64
	if a, ok := e.account(s); ok {
		phc, reset = a.PasswordHash, a.SoftlockReset
	}
	key := lockKey(s, authguard.FactorPassword)
	g := e.guard()
	release, l := g.Begin(key, reset)
	if l {
		return locked, nil
	}
	// Released only after Fail or Succeed below has been recorded.
	defer release()
	good, err := e.Hasher.Verify(ctx, phc, pw)
	if errors.Is(err, password.ErrBusy) {
		return 0, ErrTooMany
	}
	if err != nil {
		return 0, fmt.Errorf("password check: %w", err)
	}
	if !good {
		g.Fail(ctx, key)
		return wrong, nil
	}
	g.Succeed(key)
	return passed, nil
}
