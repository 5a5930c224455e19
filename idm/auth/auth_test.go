package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
	"github.com/gatehouse-idm/gatehouse/idm/token"
)

// accounts makes one account per mechanism.
func (w *world) accounts() map[string]*entry.Entry {
	ca, err := fidotest.NewTestCA()
	if err != nil {
		w.t.Fatal(err)
	}
	w.ca = ca
	cas := &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{"test": ca.Entry()}}
	return map[string]*entry.Entry{
		entry.MechPassword: w.account(entry.Person, "alice", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc }),
		entry.MechGeneratedPassword: w.account(entry.ServiceAccount, "robot", func(a *entry.Entry, c *entry.Credentials) {
			c.PasswordHash, c.PasswordGenerated = w.phc, true
		}),
		entry.MechPasswordMFA: w.account(entry.Person, "bob", func(a *entry.Entry, c *entry.Credentials) {
			c.PasswordHash, c.TOTP = w.phc, []entry.TOTP{w.totpCred(a)}
		}),
		entry.MechPasswordSecurityKey: w.account(entry.Person, "carol", func(a *entry.Entry, c *entry.Credentials) {
			c.PasswordHash, c.SecurityKeys = w.phc, []entry.WebAuthn{w.enrol(a, fido.SecurityKey, nil)}
		}),
		entry.MechPasskey: w.account(entry.Person, "dave", func(a *entry.Entry, c *entry.Credentials) {
			c.Passkeys = []entry.WebAuthn{w.enrol(a, fido.Passkey, nil)}
		}),
		entry.MechAttestedPasskey: w.account(entry.Person, "erin", func(a *entry.Entry, c *entry.Credentials) {
			c.Passkeys = []entry.WebAuthn{w.enrol(a, fido.Passkey, cas)}
		}),
	}
}

// answer answers a challenge as the account's owner would; wrong answers
// the last factor wrongly (wrong password, wrong code, a key used from a
// phishing origin).
func (w *world) answer(a *entry.Entry, c Challenge, wrong bool) Cred {
	w.t.Helper()
	switch c.Factor {
	case FactorPassword:
		if wrong {
			return Cred{Password: str("not the password")}
		}
		return Cred{Password: str(goodPW)}
	case FactorTOTP:
		code := w.code(a)
		if wrong {
			code = Code(string(code[:5]) + string('0'+(code[5]-'0'+1)%10))
		}
		return Cred{TOTP: &code}
	}
	key := w.keys[a.Name]
	if wrong {
		key = key.ForOrigin("https://evil.example")
	}
	resp, err := key.Login(c.Options, c.Factor == FactorPasskey)
	if err != nil {
		w.t.Fatalf("authenticator of %s: %v", a.Name, err)
	}
	if c.Factor == FactorPasskey {
		return Cred{Passkey: resp}
	}
	return Cred{SecurityKey: resp}
}

// login runs init, begin and every challenge; wrong spoils the last answer.
func (w *world) login(e *Engine, a *entry.Entry, mech string, wrong bool) State {
	w.t.Helper()
	r := w.step(e, "", initReq(a.Name))
	if !slices.Contains(r.State.Choose, mech) {
		w.t.Fatalf("%s was offered %v, not %s", a.Name, r.State.Choose, mech)
	}
	return w.follow(e, a, r.SessionID, mech, wrong)
}

// follow chooses mech in login id and answers until the end.
func (w *world) follow(e *Engine, a *entry.Entry, id, mech string, wrong bool) State {
	w.t.Helper()
	r := w.step(e, id, begin(mech))
	for n := len(factorsOf(mech)); ; n-- {
		if len(r.State.Continue) != 1 {
			return r.State
		}
		r = w.step(e, id, cred(w.answer(a, r.State.Continue[0], wrong && n == 1)))
	}
}

func (w *world) claims(s State) *token.Claims {
	w.t.Helper()
	if s.Success == nil {
		w.t.Fatalf("login did not succeed: %s", mustJSON(s))
	}
	c, err := w.signer.Verify(*s.Success, w.clock.now())
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func TestEveryMechanismLogsInAndAFailureRevealsNoAccount(t *testing.T) {
	w := newWorld(t)
	accts := w.accounts()
	for mech, a := range accts {
		t.Run(mech, func(t *testing.T) {
			w.t = t
			if got, _ := w.e.allowed(a); got[0] != mech {
				t.Fatalf("%s offers %v; want %s first", a.Name, got, mech)
			}
			c := w.claims(w.login(w.e, a, mech, false))
			if c.Subject != a.UUID || c.Mechanism != mech || c.RWUntil != 0 || Owner(c.SessionID) != "n1" {
				t.Fatalf("token claims %+v", c)
			}
			if got := c.Expiry.Time().Sub(w.clock.now()); got != entry.DefaultAuthExpiry*time.Second {
				t.Fatalf("session expires after %v", got)
			}
			if s := w.sessions[len(w.sessions)-1]; s.ID != c.SessionID || s.Account != a.UUID || s.Mechanism != mech {
				t.Fatalf("recorded session %+v", s)
			}
			st := w.login(w.e, a, mech, true)
			if st.Denied == nil || *st.Denied != DeniedCredentials {
				t.Fatalf("a wrong answer: %s", mustJSON(st))
			}
		})
	}
	w.t = t
	// A name that matches nothing is offered a password and denied with the
	// same words.
	r := w.step(w.e, "", initReq("nobody"))
	if !slices.Equal(r.State.Choose, []string{entry.MechPassword}) {
		t.Fatalf("an unknown name was offered %v", r.State.Choose)
	}
	w.step(w.e, r.SessionID, begin(entry.MechPassword))
	r = w.step(w.e, r.SessionID, cred(Cred{Password: str(goodPW)}))
	if r.State.Denied == nil || *r.State.Denied != DeniedCredentials {
		t.Fatalf("an unknown name: %s", mustJSON(r.State))
	}
}

func TestUsernamelessPasskeyNamesTheAccount(t *testing.T) {
	w := newWorld(t)
	dave := w.account(entry.Person, "dave", func(a *entry.Entry, c *entry.Credentials) {
		c.Passkeys = []entry.WebAuthn{w.enrol(a, fido.Passkey, nil)}
	})
	r := w.step(w.e, "", initReq(""))
	if !slices.Equal(r.State.Choose, []string{entry.MechPasskey}) {
		t.Fatalf("usernameless offer %v", r.State.Choose)
	}
	c := w.claims(w.follow(w.e, dave, r.SessionID, entry.MechPasskey, false))
	if c.Subject != dave.UUID || c.Mechanism != entry.MechPasskey {
		t.Fatalf("claims %+v", c)
	}
	// A passkey of an account that no longer exists names nobody.
	r = w.step(w.e, "", initReq(""))
	if _, err := w.svc.Delete(context.Background(), admin, entry.Person, dave.UUID); err != nil {
		t.Fatal(err)
	}
	if st := w.follow(w.e, dave, r.SessionID, entry.MechPasskey, false); st.Denied == nil || *st.Denied != DeniedCredentials {
		t.Fatalf("a deleted account's passkey: %s", mustJSON(st))
	}
}

func TestReauthGrantsAWriteWindowInsideTheSameSession(t *testing.T) {
	w := newWorld(t)
	bob := w.account(entry.Person, "bob", func(a *entry.Entry, c *entry.Credentials) {
		c.PasswordHash, c.TOTP = w.phc, []entry.TOTP{w.totpCred(a)}
	})
	first := w.claims(w.login(w.e, bob, entry.MechPasswordMFA, false))
	w.clock.add(time.Minute) // the next TOTP step: a code is used once
	r, err := w.e.BeginReauth(first, IssueCookie)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.State.Choose, []string{entry.MechPasswordMFA}) {
		t.Fatalf("reauth offered %v", r.State.Choose)
	}
	n := len(w.sessions)
	resp := w.step(w.e, r.SessionID, begin(entry.MechPasswordMFA))
	resp = w.step(w.e, r.SessionID, cred(w.answer(bob, resp.State.Continue[0], false)))
	resp = w.step(w.e, r.SessionID, cred(w.answer(bob, resp.State.Continue[0], false)))
	c := w.claims(resp.State)
	if c.SessionID != first.SessionID || !c.Expiry.Time().Equal(first.Expiry.Time()) {
		t.Fatalf("reauth changed the session: %+v, was %+v", c, first)
	}
	if want := w.clock.now().Add(entry.DefaultPrivilegeExpiry * time.Second).Unix(); c.RWUntil != want || !c.ReadWrite(w.clock.now()) {
		t.Fatalf("RWUntil %d, want %d", c.RWUntil, want)
	}
	if resp.Issue != IssueCookie || len(w.sessions) != n {
		t.Fatalf("issue %q; %d new session records", resp.Issue, len(w.sessions)-n)
	}
	// The write window never outlasts the session.
	w.clock.add(entry.DefaultAuthExpiry*time.Second - 2*time.Minute)
	r, _ = w.e.BeginReauth(first, "")
	resp = w.step(w.e, r.SessionID, begin(entry.MechPasswordMFA))
	resp = w.step(w.e, r.SessionID, cred(w.answer(bob, resp.State.Continue[0], false)))
	resp = w.step(w.e, r.SessionID, cred(w.answer(bob, resp.State.Continue[0], false)))
	if c := w.claims(resp.State); c.RWUntil != first.Expiry.Time().Unix() {
		t.Fatalf("RWUntil %d beyond the session's expiry %d", c.RWUntil, first.Expiry.Time().Unix())
	}
}

func TestRepeatedFailuresLockTheCredentialAndAResetOrTimeUnlocksIt(t *testing.T) {
	w := newWorld(t)
	alice := w.account(entry.Person, "alice", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	denied := func(name, pw string) string {
		r := w.step(w.e, "", initReq(name))
		w.step(w.e, r.SessionID, begin(entry.MechPassword))
		r = w.step(w.e, r.SessionID, cred(Cred{Password: &pw}))
		if r.State.Denied == nil {
			return ""
		}
		return *r.State.Denied
	}
	for _, name := range []string{"alice", "nobody"} {
		for range 3 {
			if got := denied(name, "wrong"); got != DeniedCredentials {
				t.Fatalf("%s: %q", name, got)
			}
		}
		// Locked: refused before hashing, even with the right password,
		// and the same for a name that matches nothing.
		if got := denied(name, goodPW); got != DeniedLocked {
			t.Fatalf("%s after 3 failures: %q", name, got)
		}
	}
	w.clock.add(authguard1s)
	if got := denied("alice", goodPW); got != "" {
		t.Fatalf("after the lock: %q", got)
	}
	for range 3 {
		denied("alice", "wrong")
	}
	if err := w.svc.SoftlockReset(context.Background(), admin, alice.UUID); err != nil {
		t.Fatal(err)
	}
	w.clock.add(time.Millisecond)
	if got := denied("alice", goodPW); got != "" {
		t.Fatalf("after an administrator's reset: %q", got)
	}
}

const authguard1s = time.Second

func TestATOTPCodeIsAcceptedOnce(t *testing.T) {
	w := newWorld(t)
	bob := w.account(entry.Person, "bob", func(a *entry.Entry, c *entry.Credentials) {
		c.PasswordHash, c.TOTP = w.phc, []entry.TOTP{w.totpCred(a)}
	})
	w.claims(w.login(w.e, bob, entry.MechPasswordMFA, false))
	if st := w.login(w.e, bob, entry.MechPasswordMFA, false); st.Denied == nil || *st.Denied != DeniedReplay {
		t.Fatalf("a replayed code: %s", mustJSON(st))
	}
}

func TestTheOfferFollowsTheCredentialTypeMinimum(t *testing.T) {
	w := newWorld(t)
	alice := w.account(entry.Person, "alice", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	if _, err := w.svc.SetGroupPolicy(context.Background(), admin, "idm_all_persons", func(p *entry.Policy) error {
		p.CredentialTypeMinimum = entry.CredMFA
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// alice's password is below the minimum: she is treated like an
	// unknown name, and her right password is denied.
	st := w.login(w.e, alice, entry.MechPassword, false)
	if st.Denied == nil || *st.Denied != DeniedCredentials {
		t.Fatalf("a password below the minimum: %s", mustJSON(st))
	}
}

func TestAnInFlightLoginExpiresAfterItsTTL(t *testing.T) {
	w := newWorld(t)
	resp := w.step(w.e, "", initReq("alice"))
	if Owner(resp.SessionID) != "n1" {
		t.Fatalf("session id %q does not name its node", resp.SessionID)
	}
	w.clock.add(InflightTTL)
	if _, err := w.e.Step(context.Background(), resp.SessionID, begin(entry.MechPassword), "test"); !errors.Is(err, ErrBadStep) {
		t.Fatalf("a step on an expired login: want ErrBadStep, got %v", err)
	}
	w.step(w.e, "", initReq("bob"))
	w.clock.add(InflightTTL)
	w.e.Sweep()
	if n := len(w.e.inflight); n != 0 {
		t.Fatalf("%d expired logins kept after Sweep", n)
	}
}

func TestStepsOutOfOrderAreInvalidState(t *testing.T) {
	w := newWorld(t)
	w.account(entry.Person, "alice", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	ctx := context.Background()
	two := Request{Step: Step{Init: str("a"), Begin: str(entry.MechPassword)}}
	for _, r := range []Request{{}, two, cred(Cred{Password: str("x")}), begin(entry.MechPassword)} {
		if _, err := w.e.Step(ctx, "n1.nothing", r, "test"); !errors.Is(err, ErrBadStep) {
			t.Fatalf("step %s: want ErrBadStep, got %v", mustJSON(r), err)
		}
	}
	id := w.step(w.e, "", initReq("alice")).SessionID
	code := Code("123456")
	for _, r := range []Request{
		cred(Cred{Password: str(goodPW)}), // before begin
		begin(entry.MechPasskey),          // not offered
		{Step: Step{Begin: str("password")}, Issue: "smoke"},
	} {
		if _, err := w.e.Step(ctx, id, r, "test"); !errors.Is(err, ErrBadStep) {
			t.Fatalf("step %s: want ErrBadStep, got %v", mustJSON(r), err)
		}
	}
	w.step(w.e, id, begin(entry.MechPassword))
	for _, r := range []Request{cred(Cred{TOTP: &code}), cred(Cred{}), cred(Cred{Password: str("x"), TOTP: &code}), begin(entry.MechPassword)} {
		if _, err := w.e.Step(ctx, id, r, "test"); !errors.Is(err, ErrBadStep) {
			t.Fatalf("step %s: want ErrBadStep, got %v", mustJSON(r), err)
		}
	}
	// The login survived the bad steps.
	w.claims(w.step(w.e, id, cred(Cred{Password: str(goodPW)})).State)
}
