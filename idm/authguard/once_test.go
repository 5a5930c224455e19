package authguard

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAOneTimeKeyIsClaimedOnceAcrossTheCluster(t *testing.T) {
	c := newClock()
	a, b := twoGuards(t, c)
	ctx := context.Background()
	ttl := 5 * time.Minute
	if !a.ClaimOnce(ctx, "krb:alice@EXAMPLE.COM|1|HTTP/x", ttl) {
		t.Fatal("the first claim was refused")
	}
	if a.ClaimOnce(ctx, "krb:alice@EXAMPLE.COM|1|HTTP/x", ttl) {
		t.Fatal("a second claim on the same node was accepted")
	}
	if b.ClaimOnce(ctx, "krb:alice@EXAMPLE.COM|1|HTTP/x", ttl) {
		t.Fatal("a second claim on another node was accepted")
	}
	if !b.ClaimOnce(ctx, "krb:alice@EXAMPLE.COM|2|HTTP/x", ttl) {
		t.Fatal("another key was refused")
	}
	// One-time claims do not collide with TOTP claims of the same name.
	if !a.ClaimTOTP(ctx, "krb:alice@EXAMPLE.COM|1|HTTP/x", 0, ttl) {
		t.Fatal("a TOTP claim collided with a one-time claim")
	}
	c.add(ttl)
	a.Sweep()
	if !b.ClaimOnce(ctx, "krb:alice@EXAMPLE.COM|1|HTTP/x", ttl) {
		t.Fatal("an expired claim still held")
	}
	if a.ClaimOnce(ctx, "", ttl) || a.ClaimOnce(ctx, "k", 0) {
		t.Fatal("an empty key or ttl was claimed")
	}
}

func TestConcurrentOneTimeClaimsOnTwoNodesHaveOneWinner(t *testing.T) {
	a, b := twoGuards(t, newClock())
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		g := a
		if i%2 == 1 {
			g = b
		}
		wg.Go(func() {
			if g.ClaimOnce(context.Background(), "race", time.Minute) {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	// Two nodes racing may both lose (each saw the other's claim first),
	// never both win.
	if wins.Load() > 1 {
		t.Fatalf("%d winners", wins.Load())
	}
}

func TestAOneTimeClaimSkipsAnUnreachablePeer(t *testing.T) {
	g := New(Options{Peers: &peerList{addrs: []string{"127.0.0.1:1"}, client: http.DefaultClient}})
	defer g.Close()
	if !g.ClaimOnce(context.Background(), "k", time.Minute) {
		t.Fatal("a dead peer blocked a one-time claim")
	}
}
