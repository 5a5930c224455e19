package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// passwordLogin answers the password of a login for name and returns the
// denial ("" for a success).
func (w *world) passwordLogin(e *Engine, name, pw string) string {
	w.t.Helper()
	r := w.step(e, "", initReq(name))
	w.step(e, r.SessionID, begin(entry.MechPassword))
	r = w.step(e, r.SessionID, cred(Cred{Password: &pw}))
	if r.State.Denied == nil {
		return ""
	}
	return *r.State.Denied
}

// The lock of an unknown name behaves exactly like the lock of a known one
// under every spelling: failing "x" three times locks "x@domain" whether x
// exists or not, and locks neither "X" (the lookup is exact, so "X" names
// no account).
func TestTheLockOfAnUnknownNameFollowsTheSpellingsOfAKnownOne(t *testing.T) {
	w := newWorld(t)
	w.account(entry.Person, "alice", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	domain := w.f.System().Domain
	if domain == "" {
		t.Fatal("the test replica has no domain")
	}
	got := map[string][]string{}
	for _, name := range []string{"alice", "nobody"} {
		for range 3 {
			if d := w.passwordLogin(w.e, name, "wrong"); d != DeniedCredentials {
				t.Fatalf("%s: %q", name, d)
			}
		}
		for _, spelling := range []string{name + "@" + domain, strings.ToUpper(name[:1]) + name[1:]} {
			got[name] = append(got[name], w.passwordLogin(w.e, spelling, goodPW))
		}
	}
	want := []string{DeniedLocked, DeniedCredentials}
	for name, g := range got {
		if g[0] != want[0] || g[1] != want[1] {
			t.Errorf("%s after 3 failures: spn %q, capitalised %q; want %q, %q", name, g[0], g[1], want[0], want[1])
		}
	}
}

func TestALongNameIsRefusedAndAFullTableEvictsLoginsThatNeverBegan(t *testing.T) {
	w := newWorld(t)
	domain := w.f.System().Domain
	longest := strings.Repeat("a", entry.MaxNameLen) + "@" + domain
	w.step(w.e, "", initReq(longest))
	for _, name := range []string{longest + "a", strings.Repeat("x", 1<<20)} {
		if _, err := w.e.Step(context.Background(), "", initReq(name), "test"); !errors.Is(err, ErrBadStep) {
			t.Fatalf("init with a %d-byte name: want ErrBadStep, got %v", len(name), err)
		}
	}
	if n := len(w.e.inflight); n != 1 {
		t.Fatalf("%d logins stored; the refused names were kept", n)
	}

	e := w.engine(nil)
	e.maxInflight = 4
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = w.step(e, "", initReq("someone")).SessionID
	}
	// The oldest and the third have begun: they must survive a flood.
	w.step(e, ids[0], begin(entry.MechPassword))
	w.step(e, ids[2], begin(entry.MechPassword))
	for range 50 {
		w.step(e, "", initReq("flood"))
	}
	for _, i := range []int{0, 2} {
		if _, ok := e.inflight[ids[i]]; !ok {
			t.Fatalf("a begun login was evicted by a flood of inits")
		}
	}
	if len(e.inflight) != 4 {
		t.Fatalf("%d logins held; the limit is 4", len(e.inflight))
	}
	// A table of begun logins only is full.
	for id, s := range e.inflight {
		if s.mech == "" {
			w.step(e, id, begin(entry.MechPassword))
		}
	}
	if _, err := e.Step(context.Background(), "", initReq("late"), "test"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("init with a table of begun logins: want ErrTooMany, got %v", err)
	}
	// Expired logins make room first.
	w.clock.add(InflightTTL)
	w.step(e, "", initReq("later"))
	if len(e.inflight) != 1 {
		t.Fatalf("%d logins held after the others expired", len(e.inflight))
	}
	// The queues do not grow without bound with finished logins.
	for range 3000 {
		e.drop(w.step(e, "", initReq("x")).SessionID)
	}
	if e.order.size() > 2*len(e.inflight)+1025 || e.fresh.size() > 2*len(e.inflight)+1025 {
		t.Fatalf("queues of %d and %d ids for %d logins", e.order.size(), e.fresh.size(), len(e.inflight))
	}
}

func TestAnUnknownNameNeverReachesTheAuditInClear(t *testing.T) {
	w := newWorld(t)
	w.account(entry.Person, "alice", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	var (
		mu   sync.Mutex
		seen []string
	)
	e := w.engine(nil)
	e.Observe = func(account, mech, result, remote string) {
		mu.Lock()
		seen = append(seen, account)
		mu.Unlock()
	}
	secret := "Tr0ub4dor&3-typed-in-the-name-field"
	w.passwordLogin(e, secret, "whatever")
	w.passwordLogin(e, secret, "whatever")
	w.passwordLogin(e, "another-unknown", "whatever")
	w.passwordLogin(e, "alice", "wrong")
	w.clock.add(time.Second)
	tag := regexp.MustCompile(`^unknown:[0-9a-f]{8}$`)
	if len(seen) != 4 {
		t.Fatalf("observed %v", seen)
	}
	for _, who := range seen[:3] {
		if strings.Contains(who, "Tr0ub4dor") || !tag.MatchString(who) {
			t.Fatalf("an unknown name was audited as %q", who)
		}
	}
	if seen[0] != seen[1] || seen[0] == seen[2] {
		t.Fatalf("repeated attempts with one name are not recognisable: %v", seen[:3])
	}
	if seen[3] != "alice" {
		t.Fatalf("a known account was audited as %q", seen[3])
	}
}

// A disabled account is told so only after its credentials were proven.
func TestADisabledAccountIsRefusedAfterItsCredentials(t *testing.T) {
	w := newWorld(t)
	w.account(entry.Person, "dora", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	dis := true
	if _, _, err := w.svc.Update(context.Background(), admin, entry.Person, "dora", idm.Input{Disabled: &dis}); err != nil {
		t.Fatal(err)
	}
	login := func(pw string) State {
		id := w.step(w.e, "", initReq("dora")).SessionID
		w.step(w.e, id, begin(entry.MechPassword))
		return w.step(w.e, id, cred(Cred{Password: str(pw)})).State
	}
	if st := login("not-her-password"); st.Denied == nil || *st.Denied != DeniedCredentials {
		t.Fatalf("wrong password for a disabled account: %+v", st)
	}
	if st := login(goodPW); st.Denied == nil || *st.Denied != DeniedDisabled {
		t.Fatalf("right password for a disabled account: %+v", st)
	}
}
