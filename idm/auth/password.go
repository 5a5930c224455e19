package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/password"
)

// password checks the password factor. A locked credential is refused
// before any hashing; an unknown name is hashed against a dummy so that
// it costs the same and fails the same way.
func (e *Engine) password(ctx context.Context, s *inflight, pw string) (verdict, error) {
	var phc string
	var reset int64
	if a, ok := e.account(s); ok {
		phc, reset = a.PasswordHash, a.SoftlockReset
	}
	key := lockKey(s, authguard.FactorPassword)
	g := e.guard()
	if l, _ := g.Locked(key, reset); l {
		return locked, nil
	}
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
