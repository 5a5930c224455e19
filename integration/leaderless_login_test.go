package integration

import (
	"context"
	"testing"
	"time"
)

// Rule 4: logins never wait for the leader. With the leader killed
// (SIGKILL) and the other follower too, the last node can elect no leader;
// every mechanism still logs in there, and its tokens work there.
func TestEveryMechanismLogsInWithTheLeaderKilledAndNoNewLeader(t *testing.T) {
	ctx := context.Background()
	fx := newAuthFixture(t)
	c := fx.c
	m := enrolEveryMechanism(t, ctx, fx, "ll", 1)
	leader := c.WaitHealthy()
	var survivor, other *Node
	for _, nd := range c.Nodes {
		if nd == leader {
			continue
		}
		if survivor == nil {
			survivor = nd
		} else {
			other = nd
		}
	}
	Eventually(t, 5*time.Second, "the enrolment on "+survivor.ID, func() bool {
		st, ok := survivor.Status()
		return ok && st.AppliedIndex >= fx.admin.LastIndex()
	})
	// The follower first, so the leader cannot hand over; then the leader.
	other.Kill()
	leader.Kill()
	killed := time.Now()

	d := nodeDriver(c, survivor)
	for _, a := range m.all() {
		began := time.Now()
		res, err := d.login(ctx, a.init(), a.mech, a.s.answers(t, time.Time{}))
		took := time.Since(began)
		if err != nil || res.Token == "" {
			t.Fatalf("%s login of %s at %s without a leader: %+v %v", a.label(), a.s.Name, survivor.ID, res, err)
		}
		// A write without a leader waits ~5 s before giving up: a login
		// that took that long waited for something it must not need.
		if took > 3*time.Second {
			t.Errorf("%s login at %s without a leader took %s", a.label(), survivor.ID, took)
		}
		if name, err := d.self(ctx, res.Token); err != nil || name != a.s.Name {
			t.Fatalf("%s token at %s without a leader: %q %v", a.label(), survivor.ID, name, err)
		}
	}
	// Still no leader: the logins above did not wait for one.
	if st, _ := survivor.Status(); st.Leader != "" && st.Leader != leader.ID {
		t.Fatalf("%s reports leader %q after the leader was killed", survivor.ID, st.Leader)
	}
	t.Logf("every mechanism logged in at %s within %s of losing the leader", survivor.ID, time.Since(killed).Round(time.Millisecond))

	// The session records are written afterwards, once there is a leader
	// again.
	other.Start()
	leader.Start()
	c.WaitHealthy()
	Eventually(t, 20*time.Second, "the record of the leaderless password login", func() bool {
		ss, err := c.Client(survivor, fx.admin.Token()).Sessions(ctx, m.password.s.Name)
		if err != nil {
			return false
		}
		for _, s := range ss {
			if s.Node == survivor.ID && s.Issued.After(killed) {
				return true
			}
		}
		return false
	})
}
