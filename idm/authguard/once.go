package authguard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// RPCOnce is the cluster-RPC path of one-time claims (ClaimOnce).
const RPCOnce = RPCPrefix + "once"

// maxOnceTTL bounds how long a peer keeps a one-time claim it is sent.
const maxOnceTTL = 30 * time.Minute

type onceRequest struct {
	Key   string `json:"key"`
	TTLms int64  `json:"ttl_ms"`
}

// onceKey keeps one-time claims apart from TOTP claims in the claims
// table, which Sweep already expires.
func onceKey(key string) string { return "once:" + key }

// ClaimOnce claims key for ttl here and on every reachable peer, and
// reports whether no node held it already: the first caller anywhere gets
// true, every later one false until the claim expires. It serves one-time
// proofs that are not TOTP codes, such as Kerberos authenticators. Like
// ClaimTOTP it waits at most the claim timeout for each peer and skips a
// peer that does not answer.
func (g *Guard) ClaimOnce(ctx context.Context, key string, ttl time.Duration) bool {
	if key == "" || ttl <= 0 {
		return false
	}
	ttl = min(ttl, maxOnceTTL)
	if !g.claimLocal(onceKey(key), 0, ttl) {
		return false
	}
	if g.peers == nil {
		return true
	}
	return g.claimOnPeers(ctx, RPCOnce, onceRequest{Key: key, TTLms: ttl.Milliseconds()}, "one-time claim")
}

// serveOnce records a peer's one-time claim: 409 if this node holds it.
func (g *Guard) serveOnce(w http.ResponseWriter, r *http.Request) {
	var c onceRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRPCBody)).Decode(&c); err != nil || c.Key == "" || c.TTLms <= 0 {
		http.Error(w, "malformed one-time claim", http.StatusBadRequest)
		return
	}
	ttl := min(time.Duration(c.TTLms)*time.Millisecond, maxOnceTTL)
	if !g.claimLocal(onceKey(c.Key), 0, ttl) {
		w.WriteHeader(http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
