package authguard

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// Cluster-RPC paths served by Handler; register Handler at RPCPrefix.
const (
	RPCPrefix = "/rpc/authguard/"
	RPCEvent  = RPCPrefix + "event"
	RPCClaim  = RPCPrefix + "claim"
)

const (
	eventTimeout = 2 * time.Second
	// DefaultClaimTimeout bounds how long a login waits for one peer to
	// record a TOTP claim; a peer that does not answer in time is skipped.
	DefaultClaimTimeout = 300 * time.Millisecond
	batchMax            = 128
	maxRPCBody          = 1 << 20
)

type eventBatch struct {
	Events []Event `json:"events"`
}

type claimRequest struct {
	Claim string `json:"claim"`
	Step  int64  `json:"step"`
	TTLms int64  `json:"ttl_ms"`
}

// sender posts queued events to every peer, a batch at a time. Failure
// events are advisory: one that is lost costs an attacker one extra guess,
// so sending is fire-and-forget with a short timeout.
func (g *Guard) sender() {
	defer g.wg.Done()
	for {
		var batch []Event
		select {
		case <-g.stop:
			return
		case ev := <-g.out:
			batch = append(batch, ev)
		}
	drain:
		for len(batch) < batchMax {
			select {
			case ev := <-g.out:
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		body, err := json.Marshal(eventBatch{Events: batch})
		if err != nil {
			continue
		}
		var wg sync.WaitGroup
		for _, addr := range g.peers.PeerRPCAddrs() {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
				defer cancel()
				if _, err := g.post(ctx, addr, RPCEvent, body); err != nil {
					g.log.Debug("authguard: sending failure events failed", "peer", addr, "error", err)
				}
			})
		}
		wg.Wait()
	}
}

func (g *Guard) post(ctx context.Context, addr, path string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.peers.RPCClient().Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// claimRec is the newest TOTP step accepted for one credential.
type claimRec struct {
	step    int64
	expires time.Time
}

// claimLocal records step for claim here; false if this step or a newer
// one was already accepted. Claims are monotonic per credential: once the
// code of step s was used, the codes of s and of every earlier step still
// inside the skew window are dead, so a code seen over a shoulder before
// the user typed a newer one is worthless. The record expires after ttl,
// by when no step at or before it can verify any more.
func (g *Guard) claimLocal(claim string, step int64, ttl time.Duration) bool {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.claims[claim]; ok && now.Before(c.expires) && step <= c.step {
		return false
	}
	g.claims[claim] = claimRec{step: step, expires: now.Add(ttl)}
	return true
}

// ClaimTOTP claims time step of a TOTP credential (claim names the account
// and the credential) for ttl, here and on every reachable peer, before a
// code is accepted. It returns false when this node or any peer already
// accepted this step or a later one for the credential: the code was used
// before, or a newer code was. Peers that do not answer
// within the claim timeout are skipped (a node that cannot be reached cannot
// accept the code either, unless it is partitioned — the trade-off that
// keeps logins independent of a quorum).
func (g *Guard) ClaimTOTP(ctx context.Context, claim string, step int64, ttl time.Duration) bool {
	if !g.claimLocal(claim, step, ttl) {
		return false
	}
	if g.peers == nil {
		return true
	}
	return g.claimOnPeers(ctx, RPCClaim, claimRequest{Claim: claim, Step: step, TTLms: ttl.Milliseconds()}, "TOTP claim")
}

// claimOnPeers asks every peer in parallel to record a claim, waiting at
// most the claim timeout for each; false when any peer already holds it
// (409). A peer that does not answer is skipped.
func (g *Guard) claimOnPeers(ctx context.Context, path string, req any, what string) bool {
	body, err := json.Marshal(req)
	if err != nil {
		return false
	}
	var mu sync.Mutex
	ok := true
	var wg sync.WaitGroup
	for _, addr := range g.peers.PeerRPCAddrs() {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, g.claimTimeout)
			defer cancel()
			status, err := g.post(ctx, addr, path, body)
			if err != nil {
				g.log.Warn("authguard: a peer did not record a "+what+"; skipped", "peer", addr, "error", err)
				return
			}
			if status == http.StatusConflict {
				mu.Lock()
				ok = false
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ok
}

// Handler serves the guard's cluster RPCs (events and TOTP claims). Mount it
// on the mutual-TLS cluster channel only, at RPCPrefix.
func (g *Guard) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+RPCEvent, func(w http.ResponseWriter, r *http.Request) {
		var b eventBatch
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRPCBody)).Decode(&b); err != nil {
			http.Error(w, "malformed event batch", http.StatusBadRequest)
			return
		}
		for _, ev := range b.Events {
			if ev.Key != "" {
				g.merge(ev)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+RPCClaim, func(w http.ResponseWriter, r *http.Request) {
		var c claimRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRPCBody)).Decode(&c); err != nil || c.Claim == "" || c.TTLms <= 0 {
			http.Error(w, "malformed claim", http.StatusBadRequest)
			return
		}
		ttl := min(time.Duration(c.TTLms)*time.Millisecond, maxClaimTTL)
		if !g.claimLocal(c.Claim, c.Step, ttl) {
			w.WriteHeader(http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
