package authguard

import (
	"context"
	"time"
)

// maxClaimTTL bounds how long a node keeps a claim (its own or a peer's).
const maxClaimTTL = 30 * time.Minute

// onceKey keeps one-time claims apart from TOTP claims in the claims
// table, which Sweep already expires.
func onceKey(key string) string { return "once:" + key }

// ClaimOnce claims key for ttl here and on every reachable peer, and
// reports whether no node held it already: the first caller anywhere gets
// true, every later one false until the claim expires. It serves one-time
// proofs that are not TOTP codes, such as Kerberos authenticators: a claim
// of step 0, so it travels and is held exactly like a TOTP claim.
func (g *Guard) ClaimOnce(ctx context.Context, key string, ttl time.Duration) bool {
	if key == "" || ttl <= 0 {
		return false
	}
	return g.ClaimTOTP(ctx, onceKey(key), 0, min(ttl, maxClaimTTL))
}
