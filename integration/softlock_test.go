package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockAfter mirrors idm/authguard's schedule: 3 failures lock for 1 s, each
// further failure doubles the lock.
func lockAfter(failures int) time.Duration {
	if failures < 3 {
		return 0
	}
	return time.Second << (failures - 3)
}

// Wrong passwords spread round robin over three nodes lock the credential
// on all of them as if they had all reached one node: after three failures,
// one per node, every node refuses the right password with the lock
// reason. `gatehouse person credential softlock-reset` lifts the lock
// everywhere.
func TestWrongPasswordsSpreadOverThreeNodesLockTheCredentialOnAll(t *testing.T) {
	ctx := context.Background()
	fx := newAuthFixture(t)
	c := fx.c
	s := fx.en.person(ctx, "locky", enrolOpts{Password: true})
	wrong := s
	wrong.Password = "Not-the-password-42"
	drivers := make([]authDriver, len(c.Nodes))
	for i, nd := range c.Nodes {
		drivers[i] = nodeDriver(c, nd)
	}
	// Every node must have applied the enrolment before we count.
	for _, nd := range c.Nodes {
		Eventually(t, 5*time.Second, "the person on "+nd.ID, func() bool {
			st, ok := nd.Status()
			return ok && st.AppliedIndex >= fx.admin.LastIndex()
		})
	}
	tryErr := func(i int, sec secret) (loginResult, error) {
		r, err := drivers[i%len(drivers)].login(ctx, ptr("locky"), "password", sec.answers(t, time.Time{}))
		if err != nil {
			err = fmt.Errorf("login at %s: %w", c.Nodes[i%len(drivers)].ID, err)
		}
		return r, err
	}
	try := func(i int, sec secret) loginResult {
		t.Helper()
		r, err := tryErr(i, sec)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// One failure on each node: each saw one itself, the other two from
	// its peers.
	var badReason string
	for i := range 3 {
		r := try(i, wrong)
		if r.Denied == "" || strings.Contains(r.Denied, deniedLocked) {
			t.Fatalf("wrong password %d at %s: want a plain denial, got %+v", i+1, c.Nodes[i].ID, r)
		}
		badReason = r.Denied
	}
	// No pause: a node answers a failure only once its peers have it.
	lockedAt := time.Now()
	for i := range 3 {
		r := try(i, s)
		if !strings.Contains(r.Denied, deniedLocked) {
			t.Fatalf("right password at %s %s after three failures spread over three nodes: want the lock reason, got %+v (the lock did not spread)",
				c.Nodes[i].ID, time.Since(lockedAt).Round(time.Millisecond), r)
		}
	}
	if time.Since(lockedAt) > lockAfter(3) {
		t.Fatalf("checking the lock took %s, longer than the lock itself: the checks prove nothing", time.Since(lockedAt))
	}

	// A longer lock: more failures once the first lock is over, each
	// doubling it, until it outlasts the checks below.
	failures := 3
	for lockAfter(failures) < 4*time.Second {
		time.Sleep(time.Until(lockedAt.Add(lockAfter(failures) + 100*time.Millisecond)))
		var mu sync.Mutex
		counted := 0
		parallel(6, 6, func(i int) {
			r, err := tryErr(i, wrong)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case r.Denied == badReason:
				counted++
			case strings.Contains(r.Denied, deniedLocked):
			default:
				t.Errorf("wrong password: %+v", r)
			}
		})
		if t.Failed() {
			t.FailNow()
		}
		if counted == 0 {
			t.Fatalf("no failure counted after the lock of %d failures ended", failures)
		}
		failures += counted
		lockedAt = time.Now()
	}
	t.Logf("%d failures: locked for %s", failures, lockAfter(failures))
	for i := range 3 {
		if r := try(i, s); !strings.Contains(r.Denied, deniedLocked) {
			t.Fatalf("right password at %s during a %s lock: %+v", c.Nodes[i].ID, lockAfter(failures), r)
		}
	}

	// The operator lifts it; every node lets the right password in at once.
	u := cliAs(t, c, c.Nodes[2], fx.admin.Token())
	u.ok("", "person", "credential", "softlock-reset", "locky")
	reset := time.Now()
	for i := range 3 {
		Eventually(t, 3*time.Second, "a login at "+c.Nodes[i].ID+" after softlock-reset", func() bool {
			r := try(i, s)
			return r.Token != ""
		})
	}
	if left := time.Until(lockedAt.Add(lockAfter(failures))); left <= 0 {
		t.Fatalf("the lock had ended by itself before the checks after the reset (%s since reset)", time.Since(reset))
	}
}
