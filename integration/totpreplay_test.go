package integration

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A TOTP code is accepted once: replayed within its window it is refused
// on the node that took it and on every other node (its time step is
// claimed cluster-wide), while the next step's code still works.
func TestATOTPCodeReplayedWithinItsWindowIsRefusedOnEveryNode(t *testing.T) {
	ctx := context.Background()
	fx := newAuthFixture(t)
	c := fx.c
	s := fx.en.person(ctx, "replay-user", enrolOpts{Password: true, TOTP: true})
	for _, nd := range c.Nodes {
		Eventually(t, 5*time.Second, "the enrolment on "+nd.ID, func() bool {
			st, ok := nd.Status()
			return ok && st.AppliedIndex >= fx.admin.LastIndex()
		})
	}
	// Every login below sends the code of the same instant: it stays
	// within the verifier's window (one step of skew) for the whole test.
	at := time.Now()
	login := func(nd *Node, at time.Time) loginResult {
		t.Helper()
		r, err := nodeDriver(c, nd).login(ctx, ptr(s.Name), "passwordmfa", s.answers(t, at))
		if err != nil {
			t.Fatalf("login at %s: %v", nd.ID, err)
		}
		return r
	}
	if r := login(c.Nodes[0], at); r.Token == "" {
		t.Fatalf("first use of the code at n1: %+v", r)
	}
	// Same node, then another. (A replay also counts as a failed attempt:
	// a third would soft-lock the TOTP for a second.)
	for _, nd := range []*Node{c.Nodes[0], c.Nodes[2]} {
		r := login(nd, at)
		if r.Token != "" || !strings.Contains(r.Denied, deniedReplay) {
			t.Fatalf("the same code replayed at %s: want the replay denial, got %+v", nd.ID, r)
		}
	}
	if time.Since(at) > 25*time.Second {
		t.Fatalf("the replays took %s: the code may have left its window", time.Since(at))
	}
	// The next step's code is a different code, not a replay.
	if r := login(c.Nodes[1], at.Add(30*time.Second)); r.Token == "" {
		t.Fatalf("the next step's code at n2: %+v", r)
	}
}
