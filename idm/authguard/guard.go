package authguard

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// The soft-lock schedule (docs/api.md, "Brute force"): Threshold failures
// lock the credential for BaseLock after the last failure; every further
// failure doubles the lock, up to MaxLock. The count decays: once Window
// has passed after the last lock ended (or after the last failure, below
// the threshold) every failure is forgotten. A success forgets all earlier
// failures. Counting from the end of the lock, not from each failure, lets
// the lock reach MaxLock: with a plain sliding hour the doubling locks
// themselves would push old failures out and cap the lock near half an hour.
const (
	Threshold = 3
	BaseLock  = time.Second
	MaxLock   = time.Hour
	Window    = time.Hour
	// maxKept bounds the failures kept per credential: beyond
	// Threshold + log2(MaxLock/BaseLock) more change nothing.
	maxKept = 24
)

// Factors a credential key is made of.
const (
	FactorPassword = "password"
	FactorTOTP     = "totp"
	FactorWebAuthn = "webauthn"
)

// Key names the credential factor of an account (by uuid).
func Key(accountUUID, factor string) string { return accountUUID + "/" + factor }

// NameKey names a credential of a name that matched no account: it is
// locked like a real one, so a lock reveals nothing. name must be the exact
// form the account lookup used (the caller strips "@domain" as the lookup
// does): every spelling that would reach one account must reach one key,
// and no other spelling may (lookup is case-sensitive, so no case folding).
func NameKey(name, factor string) string { return "name:" + name + "/" + factor }

// Peers reaches the other nodes over the mutual-TLS cluster channel
// (cluster.Node implements it).
type Peers interface {
	PeerRPCAddrs() []string
	RPCClient() *http.Client
}

// Options configure a Guard.
type Options struct {
	// Peers is nil on a single node: nothing is sent.
	Peers Peers
	Now   func() time.Time
	Log   *slog.Logger
	// Workers send failure events to peers (default 2); Queue bounds the
	// events waiting to be sent (default 4096; beyond it events are
	// dropped, so a flood of failures cannot exhaust memory).
	Workers, Queue int
	// ClaimTimeout bounds how long a login waits for each peer to record a
	// TOTP claim (default DefaultClaimTimeout); a slower peer is skipped.
	ClaimTimeout time.Duration
}

// Guard holds this node's view of failed attempts and TOTP claims.
type Guard struct {
	peers        Peers
	now          func() time.Time
	log          *slog.Logger
	claimTimeout time.Duration

	mu    sync.Mutex
	fails map[string]*record
	// pending counts the attempts on a key that Begin let through and
	// whose release has not run yet (this node only).
	pending map[string]int
	claims  map[string]claimRec // claim (account/credential) → newest accepted step

	out  chan Event
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// record is the failure history of one credential.
type record struct {
	times   []int64 // Unix ms of failures after resetAt, ascending
	resetAt int64   // Unix ms of the last success
}

// Event is one failure (or success, Reset) sent between nodes.
type Event struct {
	Key   string `json:"key"`
	At    int64  `json:"at"` // Unix ms
	Reset bool   `json:"reset,omitempty"`
}

// New starts a guard; Close stops its sender workers.
func New(o Options) *Guard {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	if o.ClaimTimeout <= 0 {
		o.ClaimTimeout = DefaultClaimTimeout
	}
	g := &Guard{peers: o.Peers, now: o.Now, log: o.Log, claimTimeout: o.ClaimTimeout, fails: map[string]*record{}, pending: map[string]int{}, claims: map[string]claimRec{},
		out: make(chan Event, o.Queue), stop: make(chan struct{})}
	if o.Peers != nil {
		for range o.Workers {
			g.wg.Add(1)
			go g.sender()
		}
	}
	return g
}

// Close stops the sender workers; events not yet sent are dropped.
func (g *Guard) Close() {
	g.once.Do(func() { close(g.stop) })
	g.wg.Wait()
}

// lockFor is the lock after n failures.
func lockFor(n int) time.Duration {
	if n < Threshold {
		return 0
	}
	shift := n - Threshold
	if shift > 20 {
		return MaxLock
	}
	return min(BaseLock<<shift, MaxLock)
}

// Locked reports whether key is locked now, and for how long still.
// resetBefore (Unix ms, an administrator's softlock reset) discards every
// failure at or before it.
func (g *Guard) Locked(key string, resetBefore int64) (bool, time.Duration) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.fails[key]
	if r == nil {
		return false, 0
	}
	r.decay(now.UnixMilli())
	n, last := r.count(resetBefore)
	until := time.UnixMilli(last).Add(lockFor(n))
	if n < Threshold || !now.Before(until) {
		return false, 0
	}
	return true, until.Sub(now)
}

// Begin reserves one attempt on key before its answer is checked, and
// reports locked when the attempt must be refused. Checking Locked and
// recording Fail later leaves a gap in which any number of concurrent
// answers all see "not locked"; a reservation closes it. An attempt is
// refused while the credential is locked, and also while
// failures + pending >= Threshold (the pending ones could all still fail);
// once the failures reached the threshold and the lock has run out, one
// attempt at a time is let through (its failure locks again). release
// must be called once the attempt's Fail or Succeed has been recorded; it
// is nil when locked, and safe to call more than once.
//
// Pending attempts are counted on this node only: across nodes the
// concurrency is bounded by Fail, which answers only once every peer has
// the failure.
func (g *Guard) Begin(key string, resetBefore int64) (release func(), locked bool) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	if r := g.fails[key]; r != nil {
		r.decay(now.UnixMilli())
		var last int64
		n, last = r.count(resetBefore)
		if n >= Threshold && now.Before(time.UnixMilli(last).Add(lockFor(n))) {
			return nil, true
		}
	}
	if g.pending[key] >= max(Threshold-n, 1) {
		return nil, true
	}
	g.pending[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.pending[key]--; g.pending[key] <= 0 {
				delete(g.pending, key)
			}
		})
	}, false
}

// count returns the failures after from (and after the last success) and
// the time of the newest.
func (r *record) count(from int64) (n int, last int64) {
	from = max(from, r.resetAt)
	for _, t := range r.times {
		if t > from {
			n++
			last = t
		}
	}
	return n, last
}

// forgotten is when the failures decay: Window after the lock they caused.
func (r *record) forgotten() int64 {
	n, last := r.count(0)
	if n == 0 {
		return 0
	}
	return last + (lockFor(n) + Window).Milliseconds()
}

// decay drops every failure once they are forgotten at now (Unix ms).
func (r *record) decay(now int64) {
	if len(r.times) > 0 && now >= r.forgotten() {
		r.times = r.times[:0]
	}
}

// Fail records a failed attempt on key here and on every peer, and waits
// (bounded by the claim timeout) until the peers have it: the denial goes
// back to the client only after every node counts the failure, so an
// attacker who sprays guesses over the nodes one after another meets the
// lock on each of them as early as on one node alone.
func (g *Guard) Fail(ctx context.Context, key string) {
	ev := Event{Key: key, At: g.now().UnixMilli()}
	g.merge(ev)
	if g.peers == nil {
		return
	}
	body, err := json.Marshal(eventBatch{Events: []Event{ev}})
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	for _, addr := range g.peers.PeerRPCAddrs() {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, g.claimTimeout)
			defer cancel()
			if _, err := g.post(cctx, addr, RPCEvent, body); err != nil {
				// A peer that cannot be reached cannot be asked either.
				g.log.Debug("authguard: a failure event did not reach a peer", "peer", addr, "error", err)
			}
		})
	}
	wg.Wait()
}

// Succeed forgets the failures of key here and on every peer.
func (g *Guard) Succeed(key string) {
	g.mu.Lock()
	_, known := g.fails[key]
	g.mu.Unlock()
	if known {
		g.event(Event{Key: key, At: g.now().UnixMilli(), Reset: true})
	}
}

func (g *Guard) event(ev Event) {
	g.merge(ev)
	if g.peers == nil {
		return
	}
	select {
	case g.out <- ev:
	default:
		g.log.Warn("authguard: event queue full; a failure event was not sent to peers", "key", ev.Key)
	}
}

// merge applies one event to this node's table.
func (g *Guard) merge(ev Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.fails[ev.Key]
	if r == nil {
		if ev.Reset {
			return
		}
		r = &record{}
		g.fails[ev.Key] = r
	}
	if ev.Reset {
		r.resetAt = max(r.resetAt, ev.At)
		r.times = slices.DeleteFunc(r.times, func(t int64) bool { return t <= r.resetAt })
		return
	}
	if ev.At <= r.resetAt {
		return
	}
	r.decay(ev.At)
	i, _ := slices.BinarySearch(r.times, ev.At)
	r.times = slices.Insert(r.times, i, ev.At)
	if len(r.times) > maxKept {
		r.times = slices.Delete(r.times, 0, len(r.times)-maxKept)
	}
}

// Sweep forgets decayed failures and expired TOTP claims; the server
// calls it periodically.
func (g *Guard) Sweep() {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, r := range g.fails {
		r.decay(now.UnixMilli())
		if len(r.times) == 0 {
			delete(g.fails, k)
		}
	}
	for k, c := range g.claims {
		if !now.Before(c.expires) {
			delete(g.claims, k)
		}
	}
}
