package authguard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is an injected time that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func TestACredentialLocksOnAnEscalatingScheduleAndASuccessResetsIt(t *testing.T) {
	c := newClock()
	g := New(Options{Now: c.now})
	defer g.Close()
	k := Key("u1", FactorPassword)
	for i := 0; i < Threshold-1; i++ {
		g.Fail(context.Background(), k)
		if locked, _ := g.Locked(k, 0); locked {
			t.Fatalf("locked after %d failures; the threshold is %d", i+1, Threshold)
		}
	}
	want := BaseLock
	for n := Threshold; n < Threshold+14; n++ {
		g.Fail(context.Background(), k)
		locked, left := g.Locked(k, 0)
		if !locked || left != want {
			t.Fatalf("after %d failures: locked=%v for %v, want %v", n, locked, left, want)
		}
		c.add(want - time.Millisecond)
		if locked, _ := g.Locked(k, 0); !locked {
			t.Fatalf("after %d failures: unlocked before %v", n, want)
		}
		c.add(time.Millisecond)
		if locked, _ := g.Locked(k, 0); locked {
			t.Fatalf("after %d failures: still locked after %v", n, want)
		}
		want = min(2*want, MaxLock)
	}
	if want != MaxLock {
		t.Fatalf("the schedule never reached its cap: %v", want)
	}
	if locked, _ := g.Locked(Key("u1", FactorTOTP), 0); locked {
		t.Fatal("a password lock also locked the TOTP of the account")
	}
	g.Fail(context.Background(), k)
	g.Succeed(k)
	if locked, _ := g.Locked(k, 0); locked {
		t.Fatal("a success did not reset the lock")
	}
}

func TestFailuresDecayAfterTheWindowAndAnAdminResetClearsThem(t *testing.T) {
	c := newClock()
	g := New(Options{Now: c.now})
	defer g.Close()
	k := NameKey("Nobody", FactorPassword)
	for range Threshold - 1 {
		g.Fail(context.Background(), k)
	}
	c.add(Window + time.Second)
	g.Fail(context.Background(), k)
	if locked, _ := g.Locked(k, 0); locked {
		t.Fatal("failures older than the window still counted")
	}
	g.Fail(context.Background(), k)
	g.Fail(context.Background(), k)
	if locked, left := g.Locked(k, 0); !locked || left != BaseLock {
		t.Fatalf("three fresh failures: locked=%v for %v", locked, left)
	}
	c.add(BaseLock + Window)
	if locked, _ := g.Locked(k, 0); locked {
		t.Fatal("a lock did not decay one window after it ended")
	}
	for range Threshold {
		g.Fail(context.Background(), k)
	}
	if locked, _ := g.Locked(k, 0); !locked {
		t.Fatal("not locked after the threshold")
	}
	if locked, _ := g.Locked(k, c.now().UnixMilli()); locked {
		t.Fatal("an administrator's softlock reset did not clear the lock")
	}
	c.add(2 * Window)
	g.Sweep()
	if n := len(g.fails); n != 0 {
		t.Fatalf("%d stale records kept after Sweep", n)
	}
}

// peerList is a Peers over httptest TLS servers.
type peerList struct {
	addrs  []string
	client *http.Client
}

func (p *peerList) PeerRPCAddrs() []string  { return p.addrs }
func (p *peerList) RPCClient() *http.Client { return p.client }

// twoGuards runs two guards, each serving its RPC on a real TLS loopback
// server, each the other's peer.
func twoGuards(t *testing.T, c *clock) (*Guard, *Guard) {
	t.Helper()
	pa, pb := &peerList{}, &peerList{}
	// A generous claim timeout: a loaded test machine (or -race) can take
	// longer than the production 300 ms for a first TLS handshake.
	a := New(Options{Peers: pa, Now: c.now, ClaimTimeout: 5 * time.Second})
	b := New(Options{Peers: pb, Now: c.now, ClaimTimeout: 5 * time.Second})
	sa := httptest.NewTLSServer(a.Handler())
	sb := httptest.NewTLSServer(b.Handler())
	t.Cleanup(func() { a.Close(); b.Close(); sa.Close(); sb.Close() })
	// Every httptest TLS server uses the same test certificate, so either
	// client trusts both.
	pa.addrs, pa.client = []string{strings.TrimPrefix(sb.URL, "https://")}, sa.Client()
	pb.addrs, pb.client = []string{strings.TrimPrefix(sa.URL, "https://")}, sb.Client()
	return a, b
}

func TestFailuresOnOneNodeLockTheCredentialOnAnother(t *testing.T) {
	c := newClock()
	a, b := twoGuards(t, c)
	k := Key("u2", FactorPassword)
	a.Fail(context.Background(), k)
	b.Fail(context.Background(), k)
	a.Fail(context.Background(), k)
	deadline := time.Now().Add(5 * time.Second)
	for {
		la, _ := a.Locked(k, 0)
		lb, _ := b.Locked(k, 0)
		if la && lb {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("three failures spread over two nodes: locked on a=%v b=%v", la, lb)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Succeed(k)
	deadline = time.Now().Add(5 * time.Second)
	for {
		if la, _ := a.Locked(k, 0); !la {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a success on b did not reset the lock on a")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestATOTPStepIsClaimedOnceAcrossTheCluster(t *testing.T) {
	c := newClock()
	a, b := twoGuards(t, c)
	ctx := context.Background()
	ttl := 90 * time.Second
	if !a.ClaimTOTP(ctx, "u3/t1", 100, ttl) {
		t.Fatal("the first claim of a step was refused")
	}
	if a.ClaimTOTP(ctx, "u3/t1", 100, ttl) {
		t.Fatal("a replayed step was accepted on the same node")
	}
	if b.ClaimTOTP(ctx, "u3/t1", 100, ttl) {
		t.Fatal("a replayed step was accepted on another node")
	}
	if !b.ClaimTOTP(ctx, "u3/t1", 101, ttl) {
		t.Fatal("the next step was refused")
	}
	c.add(ttl)
	if !a.ClaimTOTP(ctx, "u3/t1", 100, ttl) {
		t.Fatal("an expired claim still held")
	}
}

func TestAnUnreachablePeerIsSkipped(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "https://")
	client := srv.Client()
	srv.Close() // nothing listens there any more
	g := New(Options{Peers: &peerList{addrs: []string{addr}, client: client}})
	defer g.Close()
	if !g.ClaimTOTP(context.Background(), "u4/t1", 7, time.Minute) {
		t.Fatal("a dead peer blocked a TOTP claim")
	}
}

func TestConcurrentAttemptsAreReservedSoThatNoMoreThanTheThresholdAreChecked(t *testing.T) {
	c := newClock()
	g := New(Options{Now: c.now})
	defer g.Close()
	k := Key("u5", FactorPassword)
	// 40 answers arrive at once: all reserve before any has failed.
	var releases []func()
	for range 40 {
		if release, locked := g.Begin(k, 0); !locked {
			releases = append(releases, release)
		}
	}
	if len(releases) != Threshold {
		t.Fatalf("%d of 40 concurrent attempts were let through; want %d", len(releases), Threshold)
	}
	for _, release := range releases {
		g.Fail(context.Background(), k)
		release()
		release() // a second release changes nothing
	}
	if _, locked := g.Begin(k, 0); !locked {
		t.Fatal("not locked after the threshold")
	}
	// The lock ends: one attempt at a time, and its failure locks again.
	c.add(BaseLock)
	release, locked := g.Begin(k, 0)
	if locked {
		t.Fatal("still locked after the lock ran out")
	}
	if _, locked := g.Begin(k, 0); !locked {
		t.Fatal("a second concurrent attempt after a lock was let through")
	}
	g.Fail(context.Background(), k)
	release()
	if _, locked := g.Begin(k, 0); !locked {
		t.Fatal("the failure after a lock did not lock again")
	}
	// A success forgets everything, pending reservations included.
	c.add(2 * BaseLock)
	release, _ = g.Begin(k, 0)
	g.Succeed(k)
	release()
	if n := len(g.pending); n != 0 {
		t.Fatalf("%d pending reservations kept after release", n)
	}
	for range Threshold {
		if _, locked := g.Begin(k, 0); locked {
			t.Fatal("refused after a success")
		}
	}
	// An administrator's reset counts too.
	k2 := Key("u6", FactorPassword)
	for range Threshold {
		g.Fail(context.Background(), k2)
	}
	if _, locked := g.Begin(k2, c.now().UnixMilli()); locked {
		t.Fatal("an administrator's softlock reset did not clear the lock for Begin")
	}
}

func TestATOTPClaimIsMonotonicPerCredentialOnEveryNode(t *testing.T) {
	c := newClock()
	a, b := twoGuards(t, c)
	ctx := context.Background()
	ttl := 90 * time.Second
	if !a.ClaimTOTP(ctx, "u7/t1", 101, ttl) {
		t.Fatal("the first claim was refused")
	}
	// The code of the step before, still inside the skew window, was
	// perhaps read over the user's shoulder: it must be dead now.
	if a.ClaimTOTP(ctx, "u7/t1", 100, ttl) {
		t.Fatal("an older step was accepted after a newer one on the same node")
	}
	if b.ClaimTOTP(ctx, "u7/t1", 100, ttl) {
		t.Fatal("an older step was accepted after a newer one on another node")
	}
	if !a.ClaimTOTP(ctx, "u7/t2", 100, ttl) {
		t.Fatal("another credential's claim was refused")
	}
	if !b.ClaimTOTP(ctx, "u7/t1", 102, ttl) {
		t.Fatal("a newer step was refused")
	}
	if a.ClaimTOTP(ctx, "u7/t1", 101, ttl) {
		t.Fatal("a step older than the peer's newest claim was accepted")
	}
}
