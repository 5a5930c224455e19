package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// authFixture is a three-node cluster configured for WebAuthn behind the
// origin https://localhost:<LBPort>, with idm_admin logged in on node 1.
type authFixture struct {
	c      *Cluster
	lbPort int
	admin  *apiclient.Client
	en     *enroller
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	c := NewCluster(t, 3)
	port := freePort(t)
	c.ConfigExtra = webauthnConfig(port, c.Nodes)
	c.StartAll()
	c.WaitHealthy()
	admin, _ := c.Admin(c.Nodes[0], "idm_admin")
	// Reads after our own writes, on whichever node we ask next.
	admin.SetReadYourWrites(true)
	origin := fmt.Sprintf("https://localhost:%d", port)
	return &authFixture{c: c, lbPort: port, admin: admin,
		en: &enroller{t: t, c: c, nd: c.Nodes[0], admin: admin, origin: origin}}
}

// mechAccount is one account and how to log in with it.
type mechAccount struct {
	mech   string
	s      secret
	byName bool // false: usernameless passkey
}

func (m mechAccount) init() *string {
	if !m.byName {
		return ptr("")
	}
	return ptr(m.s.Name)
}

// mechAccounts enrols one account per mechanism (and n for passwordmfa,
// whose TOTP steps can each be used once) through the credential-update
// API. The attested passkey's account is in a group whose policy lists
// the test CA before it enrols.
type mechAccounts struct {
	password, securityKey, passkey, usernameless, attested, generated mechAccount
	mfa                                                               []mechAccount
}

func enrolEveryMechanism(t *testing.T, ctx context.Context, fx *authFixture, prefix string, mfaAccounts int) *mechAccounts {
	t.Helper()
	en := fx.en
	ca, err := fidotest.NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	m := &mechAccounts{mfa: make([]mechAccount, mfaAccounts)}
	att := prefix + "-attested"
	if _, err := fx.admin.CreatePerson(ctx, att, att, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.admin.CreateGroup(ctx, prefix+"-fido-devices", "attested passkeys only", []string{att}); err != nil {
		t.Fatal(err)
	}
	e := ca.Entry()
	setAccountPolicy(t, ctx, fx.admin, prefix+"-fido-devices", "webauthn_attestation_ca_list", map[string]any{"cas": map[string]any{"fidotest": e}})
	m.attested = mechAccount{"attested_passkey", en.person(ctx, att, enrolOpts{Passkey: true, Attestation: ca}), true}
	m.password = mechAccount{"password", en.person(ctx, prefix+"-password", enrolOpts{Password: true}), true}
	m.securityKey = mechAccount{"passwordsecuritykey", en.person(ctx, prefix+"-seckey", enrolOpts{Password: true, SecurityKey: true}), true}
	m.passkey = mechAccount{"passkey", en.person(ctx, prefix+"-passkey", enrolOpts{Passkey: true}), true}
	m.usernameless = mechAccount{"passkey", en.person(ctx, prefix+"-discoverable", enrolOpts{Passkey: true}), false}
	m.generated = mechAccount{"generatedpassword", en.serviceAccount(ctx, prefix+"-service"), true}
	parallel(mfaAccounts, 4, func(i int) {
		m.mfa[i] = mechAccount{"passwordmfa", en.person(ctx, fmt.Sprintf("%s-mfa-%02d", prefix, i), enrolOpts{Password: true, TOTP: true}), true}
	})
	return m
}

// all lists one account per mechanism (the first passwordmfa one).
func (m *mechAccounts) all() []mechAccount {
	return []mechAccount{m.password, m.mfa[0], m.securityKey, m.passkey, m.attested, m.generated, m.usernameless}
}

func (m mechAccount) label() string {
	if !m.byName {
		return "usernameless passkey"
	}
	return m.mech
}

// Every mechanism logs in, and a failed login says why in the same words
// whether or not the account exists. Then, through HAProxy round robin
// (no stickiness, a new connection per request, so the steps of one login
// land on different nodes), 50 logins of each mechanism succeed and their
// in-flight logins were held by all three nodes.
func TestEveryMechanismLogsIn50TimesThroughHAProxyRoundRobin(t *testing.T) {
	ctx := context.Background()
	fx := newAuthFixture(t)
	start := time.Now()
	m := enrolEveryMechanism(t, ctx, fx, "am", 51) // the first passwordmfa account logs in once before the 50
	t.Logf("enrolled %d accounts in %s", 6+len(m.mfa), time.Since(start).Round(time.Millisecond))
	hap := StartHAProxy(t, fx.lbPort, fx.c.Nodes)
	lb := authDriver{base: hap.URL(), hc: hap.Client(t, fx.c.CA)}

	// One success and one failure each; the failure's reason is the
	// reason an unknown name gets.
	unknown, err := lb.login(ctx, ptr("nobody-at-all"), "password", secret{Password: "Wrong-password-1"}.answers(t, time.Time{}))
	if err != nil || unknown.Denied == "" {
		t.Fatalf("login of an unknown name: %+v %v", unknown, err)
	}
	if !slices.Equal(unknown.Offered, []string{"password"}) {
		t.Errorf("an unknown name is offered %v, want [password] as for a password account", unknown.Offered)
	}
	for _, a := range m.all() {
		ok, err := lb.login(ctx, a.init(), a.mech, a.s.answers(t, time.Time{}))
		if err != nil || ok.Token == "" {
			t.Fatalf("%s login of %s: %+v %v", a.label(), a.s.Name, ok, err)
		}
		if a.byName && a.mech == "attested_passkey" && !slices.Contains(ok.Offered, "attested_passkey") {
			t.Errorf("attested passkey account offered %v", ok.Offered)
		}
		if name, err := lb.self(ctx, ok.Token); err != nil || name != a.s.Name {
			t.Fatalf("%s token: self is %q, %v", a.label(), name, err)
		}
		bad := a.s
		var answer func(apiclient.Challenge) (apiclient.AuthCred, error)
		switch a.mech {
		case "password", "generatedpassword":
			bad.Password = "Wrong-password-1"
			answer = bad.answers(t, time.Time{})
		case "passwordmfa":
			good := a.s.answers(t, time.Time{})
			answer = func(ch apiclient.Challenge) (apiclient.AuthCred, error) {
				cr, err := good(ch)
				if cr.TOTP != nil {
					*cr.TOTP = (*cr.TOTP + 1) % 1000000
				}
				return cr, err
			}
		default:
			if !a.byName {
				bad.Key = strangerPasskey(t, fx.en.origin)
				answer = bad.answers(t, time.Time{})
				break
			}
			good := a.s.answers(t, time.Time{})
			answer = func(ch apiclient.Challenge) (apiclient.AuthCred, error) {
				cr, err := good(ch)
				if err != nil {
					return cr, err
				}
				if cr.Passkey != nil {
					cr.Passkey, err = corrupt(cr.Passkey)
				}
				if cr.SecurityKey != nil {
					cr.SecurityKey, err = corrupt(cr.SecurityKey)
				}
				return cr, err
			}
		}
		no, err := lb.login(ctx, a.init(), a.mech, answer)
		if err != nil || no.Denied == "" {
			t.Fatalf("failed %s login of %s: want a denial, got %+v %v", a.label(), a.s.Name, no, err)
		}
		if no.Denied != unknown.Denied {
			t.Errorf("failed %s login: denial %q differs from an unknown name's %q (it reveals that the account exists)", a.label(), no.Denied, unknown.Denied)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// 50 of each through the balancer; each mechanism's logins run in
	// sequence (authenticator counters grow in order), the mechanisms side
	// by side.
	const n = 50
	start = time.Now()
	var mu sync.Mutex
	nodes := map[string]map[string]int{}
	var errs []error
	var wg sync.WaitGroup
	streams := [][]mechAccount{}
	for _, a := range []mechAccount{m.password, m.securityKey, m.passkey, m.attested, m.generated, m.usernameless} {
		streams = append(streams, slices.Repeat([]mechAccount{a}, n))
	}
	streams = append(streams, m.mfa[1:n+1])
	for _, stream := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			defer func() { t.Logf("%-22s 50 logins in %s", stream[0].label(), time.Since(began).Round(time.Millisecond)) }()
			for i, a := range stream {
				res, err := lb.login(ctx, a.init(), a.mech, a.s.answers(t, time.Time{}))
				if err == nil && res.Token == "" {
					err = fmt.Errorf("denied: %s", res.Denied)
				}
				if err == nil {
					var name string
					if name, err = lb.self(ctx, res.Token); err == nil && name != a.s.Name {
						err = fmt.Errorf("token of %s names %s", a.s.Name, name)
					}
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s login %d (%s): %w", a.label(), i, a.s.Name, err))
				} else {
					if nodes[a.label()] == nil {
						nodes[a.label()] = map[string]int{}
					}
					nodes[a.label()][res.InitNode]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		t.Fatalf("%d of %d logins through HAProxy failed; first: %v", len(errs), n*len(streams), errors.Join(errs[:min(5, len(errs))]...))
	}
	t.Logf("%d logins through HAProxy in %s", n*len(streams), elapsed.Round(time.Millisecond))
	labels := make([]string, 0, len(nodes))
	for l := range nodes {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		t.Logf("%-22s logins held per node: %v", l, nodes[l])
		for _, nd := range fx.c.Nodes {
			if nodes[l][nd.ID] == 0 {
				t.Errorf("%s: no login was held by %s (%v): the balancer kept an affinity", l, nd.ID, nodes[l])
			}
		}
	}

	// The session records (written after each login, rule 4) name the
	// node of each login: all three.
	Eventually(t, 15*time.Second, "the session records of 51 password logins on three nodes", func() bool {
		ss, err := fx.admin.Sessions(ctx, m.password.s.Name)
		if err != nil {
			t.Logf("sessions: %v", err)
			return false
		}
		by := map[string]int{}
		for _, s := range ss {
			by[s.Node]++
		}
		return len(ss) >= n+1 && by["n1"] > 0 && by["n2"] > 0 && by["n3"] > 0
	})
}

// A read-only session cannot write; reauthentication grants writes for the
// resolved privilege expiry (the smallest of the account's groups, here 2
// s); logout revokes the session on every node within a second.
func TestAReadOnlySessionWritesOnlyAfterReauthUntilPrivilegeExpiry(t *testing.T) {
	ctx := context.Background()
	fx := newAuthFixture(t)
	c := fx.c
	s := fx.en.person(ctx, "rw-user", enrolOpts{Password: true})
	if _, err := fx.admin.CreateGroup(ctx, "short-privilege", "", []string{"rw-user"}); err != nil {
		t.Fatal(err)
	}
	setAccountPolicy(t, ctx, fx.admin, "short-privilege", "privilege_expiry", 2)

	user := c.Client(c.Nodes[1], "")
	user.SetReadYourWrites(true)
	user.ObserveIndex(fx.admin.LastIndex())
	if _, err := user.LoginPassword(ctx, "rw-user", s.Password); err != nil {
		t.Fatal(err)
	}
	write := func() error {
		cu, err := user.OpenCredUpdate(ctx)
		if err == nil {
			err = user.CredUpdateCancel(ctx, cu.ID)
		}
		return err
	}
	wantReauthRequired := func(when string) {
		t.Helper()
		err := write()
		var ae *apiclient.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Code != "reauth_required" {
			t.Fatalf("a write %s: want 403 reauth_required, got %v", when, err)
		}
		if !strings.Contains(strings.ToLower(ae.Message), "re-auth") && !strings.Contains(strings.ToLower(ae.Message), "reauth") {
			t.Errorf("the refusal should tell to re-authenticate: %q", ae.Message)
		}
	}
	wantReauthRequired("with a fresh read-only session")
	if _, err := user.Reauth(ctx, apiclient.PasswordAnswerer(s.Password, nil)); err != nil {
		t.Fatalf("reauth: %v", err)
	}
	reauthed := time.Now()
	if err := write(); err != nil {
		t.Fatalf("a write right after reauth: %v", err)
	}
	time.Sleep(time.Until(reauthed.Add(3 * time.Second)))
	wantReauthRequired("after the 2 s privilege expiry")

	// Logout revokes everywhere within a second.
	tok := user.Token()
	for _, nd := range c.Nodes {
		if _, err := c.Client(nd, tok).Self(ctx); err != nil {
			t.Fatalf("session on %s before logout: %v", nd.ID, err)
		}
	}
	if err := user.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	loggedOut := time.Now()
	for _, nd := range c.Nodes {
		cl := c.Client(nd, tok)
		for {
			_, err := cl.Self(ctx)
			if apiclient.IsStatus(err, http.StatusUnauthorized) {
				break
			}
			if time.Since(loggedOut) > time.Second {
				t.Fatalf("%s still accepts the session %s after logout: %v", nd.ID, time.Since(loggedOut), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
