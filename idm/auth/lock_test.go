package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
	"github.com/gatehouse-idm/gatehouse/idm/totp"
)

// slowGuard is a guard whose clock takes a few milliseconds to read: it
// widens the gap between a lock check and the failure that follows it, so
// a check that is not an atomic reservation lets every concurrent answer
// through, every time.
func (w *world) slowGuard() *authguard.Guard {
	g := authguard.New(authguard.Options{Now: func() time.Time {
		time.Sleep(5 * time.Millisecond)
		return w.clock.now()
	}})
	w.t.Cleanup(g.Close)
	return g
}

// parallelAnswers prepares n logins up to the factor under test, then
// sends the n answers at once and counts the denials by reason.
func (w *world) parallelAnswers(e *Engine, n int, prepare func() (id string, answer Cred)) map[string]int {
	w.t.Helper()
	ids, answers := make([]string, n), make([]Cred, n)
	for i := range n {
		ids[i], answers[i] = prepare()
	}
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for i := range n {
		wg.Go(func() {
			<-start
			r, err := e.Step(context.Background(), ids[i], cred(answers[i]), "test")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				counts["error: "+err.Error()]++
			case r.State.Denied != nil:
				counts[*r.State.Denied]++
			default:
				counts["not denied"]++
			}
		})
	}
	close(start)
	wg.Wait()
	return counts
}

func checkParallel(t *testing.T, what string, n int, counts map[string]int) {
	t.Helper()
	if counts[DeniedCredentials] > authguard.Threshold || counts[DeniedCredentials]+counts[DeniedLocked] != n {
		t.Fatalf("%d concurrent %s: %v; want at most %d checked, the rest locked", n, what, counts, authguard.Threshold)
	}
}

func TestConcurrentWrongAnswersCannotGetAroundTheSoftLock(t *testing.T) {
	w := newWorld(t)
	alice := w.account(entry.Person, "alice", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	bob := w.account(entry.Person, "bob", func(a *entry.Entry, c *entry.Credentials) {
		c.PasswordHash, c.TOTP = w.phc, []entry.TOTP{w.totpCred(a)}
	})
	dave := w.account(entry.Person, "dave", func(a *entry.Entry, c *entry.Credentials) {
		c.Passkeys = []entry.WebAuthn{w.enrol(a, fido.Passkey, nil)}
	})
	e := w.engine(w.slowGuard())

	// Passwords: 40 wrong guesses at once.
	counts := w.parallelAnswers(e, 40, func() (string, Cred) {
		id := w.step(e, "", initReq("alice")).SessionID
		w.step(e, id, begin(entry.MechPassword))
		return id, Cred{Password: str("not the password")}
	})
	checkParallel(t, "wrong passwords", 40, counts)
	id := w.step(e, "", initReq(alice.Name)).SessionID
	w.step(e, id, begin(entry.MechPassword))
	if r := w.step(e, id, cred(Cred{Password: str(goodPW)})); r.State.Denied == nil || *r.State.Denied != DeniedLocked {
		t.Fatalf("the right password after 40 concurrent wrong ones: %s", mustJSON(r.State))
	}

	// TOTP: cheap to check, not bounded by the hash queue.
	counts = w.parallelAnswers(e, 12, func() (string, Cred) {
		id := w.step(e, "", initReq("bob")).SessionID
		r := w.step(e, id, begin(entry.MechPasswordMFA))
		r = w.step(e, id, cred(w.answer(bob, r.State.Continue[0], false)))
		return id, w.answer(bob, r.State.Continue[0], true)
	})
	checkParallel(t, "wrong TOTP codes", 12, counts)

	// Passkeys: assertions made for a phishing origin.
	counts = w.parallelAnswers(e, 12, func() (string, Cred) {
		id := w.step(e, "", initReq("dave")).SessionID
		r := w.step(e, id, begin(entry.MechPasskey))
		return id, w.answer(dave, r.State.Continue[0], true)
	})
	checkParallel(t, "wrong passkey assertions", 12, counts)
}

// Once a code was accepted, the code of an earlier step, still inside the
// skew window (read over the user's shoulder, say), is refused.
func TestAnOlderTOTPCodeIsRefusedAfterANewerOne(t *testing.T) {
	w := newWorld(t)
	bob := w.account(entry.Person, "bob", func(a *entry.Entry, c *entry.Credentials) {
		c.PasswordHash, c.TOTP = w.phc, []entry.TOTP{w.totpCred(a)}
	})
	codeAt := func(at time.Time) Code {
		c, err := totp.Code(w.sealer, bob.UUID, bob.TOTP[0], at)
		if err != nil {
			t.Fatal(err)
		}
		return Code(c)
	}
	older, newer := codeAt(w.clock.now()), codeAt(w.clock.now().Add(30*time.Second))
	if older == newer {
		t.Fatal("two steps share a code; run again")
	}
	login := func(code Code) State {
		id := w.step(w.e, "", initReq("bob")).SessionID
		w.step(w.e, id, begin(entry.MechPasswordMFA))
		w.step(w.e, id, cred(Cred{Password: str(goodPW)}))
		return w.step(w.e, id, cred(Cred{TOTP: &code})).State
	}
	w.clock.add(15 * time.Second) // both steps inside the window
	w.claims(login(newer))
	if st := login(older); st.Denied == nil || *st.Denied != DeniedReplay {
		t.Fatalf("an older code after a newer one: %s", mustJSON(st))
	}
}
