package auth

import (
	"context"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/totp"
)

// totp checks the TOTP factor against each of the account's generators.
// A matching code is accepted only once its time step has been claimed on
// this node and on every reachable peer (authguard.ClaimTOTP): a code is
// never accepted twice, on any node, without waiting for the leader.
func (e *Engine) totp(ctx context.Context, s *inflight, code Code) (verdict, error) {
	a, ok := e.account(s)
	if !ok {
		return wrong, nil
	}
	key := authguard.Key(a.UUID, authguard.FactorTOTP)
	g := e.guard()
	// Reserve the attempt before checking: TOTP answers are cheap and not
	// bounded by the hash queue, so without it many concurrent codes would
	// all be checked before the first failure is counted.
	release, l := g.Begin(key, a.SoftlockReset)
	if l {
		return locked, nil
	}
	defer release()
	now := e.Now()
	for _, c := range a.TOTP {
		step, match, err := totp.Verify(e.Sealer, a.UUID, c, code.padded(c.Digits), now)
		if err != nil {
			// A secret that does not open is this node's problem, not the
			// user's: log it and try the other generators.
			e.log().Error("totp verify failed", "account", a.UUID, "credential", c.ID, "error", err)
			continue
		}
		if !match {
			continue
		}
		// A claim outlives every time the step's code is accepted in.
		ttl := time.Duration(2*totp.Skew+1) * time.Duration(c.Period) * time.Second
		if !g.ClaimTOTP(ctx, a.UUID+"/"+c.ID, step, ttl) {
			g.Fail(ctx, key)
			return replayed, nil
		}
		g.Succeed(key)
		return passed, nil
	}
	g.Fail(ctx, key)
	return wrong, nil
}
