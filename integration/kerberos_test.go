package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// Kerberos SPNEGO logins against real MIT KDCs (issue 5): curl
// --negotiate and gokrb5 on each of three nodes and through HAProxy, the
// CLI from a kinit cache, every refusal with its reason, and a keytab
// rotation without a restart. One cluster serves every subtest; the
// rotation runs last because it retires the service key the earlier
// tickets were made with.
func TestKerberosSPNEGO(t *testing.T) {
	users := map[string]string{
		"alice@" + krbRealm:       "alice-" + strongPassword(), // listed on person kalice
		"bob@" + krbRealm:         "bob-" + strongPassword(),   // person bob by the realm's name rule
		"ghost@" + krbRealm:       "ghost-" + strongPassword(), // no person ghost
		"dora@" + krbRealm:        "dora-" + strongPassword(),  // person dora, disabled
		"carol@" + partnerRealm:   "carol-" + strongPassword(), // person carol exists, no rule for the realm
		"mallory@" + foreignRealm: "mal-" + strongPassword(),   // realm not accepted
	}
	k := startKerberos(t, users)
	c := NewCluster(t, 3)
	c.ConfigExtra = k.ConfigExtra()
	c.StartAll()
	c.WaitHealthy()
	ctx := context.Background()
	admin, _ := c.Admin(c.Nodes[0], "idm_admin")
	for _, name := range []string{"kalice", "bob", "carol", "dora"} {
		if _, err := admin.CreatePerson(ctx, name, strings.ToUpper(name[:1])+name[1:], nil); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	if _, err := admin.AddKerberosPrincipal(ctx, "kalice", "alice@"+krbRealm); err != nil {
		t.Fatalf("add principal: %v", err)
	}
	yes := true
	if _, err := admin.UpdatePerson(ctx, "dora", apiclient.EntryPatch{Disabled: &yes}); err != nil {
		t.Fatalf("disable dora: %v", err)
	}
	waitApplied(t, c, admin.LastIndex())
	hap := StartHAProxy(t, 0, c.Nodes)
	hc := c.HTTP()

	// login checks a success: a session token that works on /v1/self as
	// the expected person, at another node than the one that issued it.
	login := func(t *testing.T, what string, r negotiateResult, person string, at *Node) *apiclient.CurrentSession {
		t.Helper()
		if r.Status != http.StatusOK || r.Token == "" {
			t.Fatalf("%s: want 200 and a session, got %d %s", what, r.Status, r.Body)
		}
		cl := c.Client(at, r.Token)
		self, err := cl.Self(ctx)
		if err != nil || self.Name != person {
			t.Fatalf("%s: /v1/self with the token: %v %+v", what, err, self)
		}
		s, err := cl.Session(ctx)
		if err != nil {
			t.Fatalf("%s: /v1/session: %v", what, err)
		}
		if s.Mechanism != "kerberos" {
			t.Errorf("%s: session mechanism %q, want kerberos", what, s.Mechanism)
		}
		return s
	}
	// refused checks a refusal: 401/403 with a reason in the body, and
	// the expected code when one is given.
	refused := func(t *testing.T, what string, r negotiateResult, code string, words ...string) {
		t.Helper()
		if r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
			t.Fatalf("%s: want a refusal, got %d %s", what, r.Status, r.Body)
		}
		if r.Token != "" || r.Error == "" {
			t.Fatalf("%s: a refusal must give a reason and no token: %s", what, r.Body)
		}
		if code != "" && r.Code != code {
			t.Errorf("%s: code %q, want %q (%s)", what, r.Code, code, r.Error)
		}
		for _, w := range words {
			if !strings.Contains(strings.ToLower(r.Error), strings.ToLower(w)) {
				t.Errorf("%s: reason %q does not mention %q", what, r.Error, w)
			}
		}
		t.Logf("%s: %d %s: %s", what, r.Status, r.Code, r.Error)
	}

	t.Run("challenge", func(t *testing.T) {
		r := SendNegotiate(t, hc, c.Nodes[0].URL(), "")
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Error, "Negotiate") {
			t.Fatalf("no Authorization: want 401 with WWW-Authenticate: Negotiate first, got %d %q %s", r.Status, r.Error, r.Body)
		}
	})

	t.Run("curl on each node and through HAProxy", func(t *testing.T) {
		cc := k.Kinit("alice@" + krbRealm)
		for i, nd := range c.Nodes {
			r := k.Curl(cc, nd.URL(), c.CA)
			login(t, "curl at "+nd.ID, r, "kalice", c.Nodes[(i+1)%3])
			// curl asks for mutual authentication: the 200 carries the
			// server's AP-REP, which curl checked before exiting 0.
			if r.Mutual == "" {
				t.Errorf("curl at %s: the 200 has no WWW-Authenticate: Negotiate <token> (mutual authentication)", nd.ID)
			}
		}
		// Each curl run is one new connection: round robin puts the three
		// on the three nodes, each issuing the session itself.
		owners := map[string]bool{}
		for i := 0; i < 3; i++ {
			s := login(t, "curl through HAProxy", k.Curl(cc, hap.URL(), c.CA), "kalice", c.Nodes[i])
			owners[sessionOwner(s.ID)] = true
		}
		t.Logf("sessions through HAProxy issued by %v", owners)
		if len(owners) != 3 {
			t.Errorf("three logins through HAProxy were issued by %d node(s), want 3 (round robin): %v", len(owners), owners)
		}
		// The name rule of the realm: bob@EXAMPLE.COM is person bob.
		login(t, "curl as bob (name rule)", k.Curl(k.Kinit("bob@"+krbRealm), c.Nodes[1].URL(), c.CA), "bob", c.Nodes[2])
	})

	t.Run("gokrb5 client on each node and through HAProxy", func(t *testing.T) {
		cl := k.GoClient("alice@" + krbRealm)
		for i, nd := range c.Nodes {
			login(t, "gokrb5 at "+nd.ID, k.GoSPNEGO(cl, hc, nd.URL()), "kalice", c.Nodes[(i+2)%3])
		}
		hapc := hap.Client(t, c.CA)
		for i := 0; i < 3; i++ {
			login(t, "gokrb5 through HAProxy", k.GoSPNEGO(cl, hapc, hap.URL()), "kalice", c.Nodes[i])
		}
		// A kinit cache read by gokrb5.
		cc := k.GoClientFromCCache(k.Kinit("bob@" + krbRealm))
		login(t, "gokrb5 from a kinit cache", k.GoSPNEGO(cc, hc, c.Nodes[0].URL()), "bob", c.Nodes[1])
	})

	t.Run("session as a cookie", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, c.Nodes[2].URL()+"/v1/auth/spnego?issue=cookie", nil)
		req.Header.Set("Authorization", k.Header(k.GoClient("bob@"+krbRealm), krbService))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var cookie *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "__Host-gatehouse-session" {
				cookie = ck
			}
		}
		if resp.StatusCode != http.StatusOK || cookie == nil || !cookie.HttpOnly || !cookie.Secure {
			t.Fatalf("?issue=cookie: %d, cookie %+v", resp.StatusCode, cookie)
		}
		req, _ = http.NewRequest(http.MethodGet, c.Nodes[0].URL()+"/v1/self", nil)
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		var self apiclient.Entry
		if resp, err := hc.Do(req); err != nil || jsonDecode(resp, &self) != nil || self.Name != "bob" {
			t.Fatalf("/v1/self with the cookie: %v %+v", err, self)
		}
	})

	t.Run("gatehouse login --kerberos", func(t *testing.T) {
		cc := k.Kinit("alice@" + krbRealm)
		u := &cliUser{t: t, env: append(k.Env(cc), "GATEHOUSE_URL="+c.Nodes[2].URL(), "GATEHOUSE_CA="+c.CA,
			"GATEHOUSE_TOKEN_FILE="+filepath.Join(t.TempDir(), "tokens"))}
		out := u.ok("", "login", "--kerberos")
		t.Logf("gatehouse login --kerberos: %s", strings.TrimSpace(out))
		if self := u.ok("", "self"); !strings.Contains(self, "kalice") {
			t.Fatalf("gatehouse self after login --kerberos: %s", self)
		}
		// No ticket: a clear failure, no password prompt.
		u.env = append(u.env, "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "none"))
		if r := u.run("", "login", "--kerberos"); r.code == 0 || strings.TrimSpace(r.err) == "" {
			t.Errorf("login --kerberos without a ticket: exit %d, stderr %q", r.code, r.err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		nd := c.Nodes[1].URL()
		t.Run("unknown principal", func(t *testing.T) {
			refused(t, "ghost@"+krbRealm, k.Curl(k.Kinit("ghost@"+krbRealm), nd, c.CA), "krb_unmapped", "ghost@"+krbRealm)
		})
		t.Run("unmapped principal", func(t *testing.T) {
			// carol@PARTNER.TEST: an accepted realm, a person named carol,
			// but no name rule for the realm and no person lists it.
			cc := k.Kinit("carol@" + partnerRealm)
			refused(t, "carol@"+partnerRealm, k.Curl(cc, nd, c.CA), "krb_unmapped", "carol@"+partnerRealm)
			if _, err := admin.AddKerberosPrincipal(ctx, "carol", "carol@"+partnerRealm); err != nil {
				t.Fatal(err)
			}
			waitApplied(t, c, admin.LastIndex())
			login(t, "carol once listed", k.Curl(cc, nd, c.CA), "carol", c.Nodes[0])
		})
		t.Run("wrong realm", func(t *testing.T) {
			refused(t, "mallory@"+foreignRealm, k.Curl(k.Kinit("mallory@"+foreignRealm), nd, c.CA), "krb_wrong_realm", foreignRealm)
		})
		t.Run("ticket for another service", func(t *testing.T) {
			cl := k.GoClient("alice@" + krbRealm)
			refused(t, krbOtherService, SendNegotiate(t, hc, nd, k.Header(cl, krbOtherService)), "krb_wrong_service", krbOtherService)
		})
		t.Run("tampered token", func(t *testing.T) {
			cl := k.GoClient("alice@" + krbRealm)
			// Near the end: the authenticator's ciphertext and its MAC.
			refused(t, "authenticator flipped", SendNegotiate(t, hc, nd, Tamper(t, k.Header(cl, krbService), 20)), "krb_integrity")
			// Further in: the ticket's ciphertext.
			h := k.Header(cl, krbService)
			refused(t, "ticket flipped", SendNegotiate(t, hc, nd, Tamper(t, h, len(h)/3)), "")
			refused(t, "not base64", SendNegotiate(t, hc, nd, "Negotiate ***"), "krb_malformed")
		})
		t.Run("replayed token", func(t *testing.T) {
			h := k.Header(k.GoClient("alice@"+krbRealm), krbService)
			login(t, "first use", SendNegotiate(t, hc, c.Nodes[0].URL(), h), "kalice", c.Nodes[0])
			refused(t, "same node", SendNegotiate(t, hc, c.Nodes[0].URL(), h), "krb_replay")
			refused(t, "another node", SendNegotiate(t, hc, c.Nodes[2].URL(), h), "krb_replay")
		})
		t.Run("expired ticket", func(t *testing.T) {
			cl := k.GoClient("alice@" + krbRealm)
			now := time.Now()
			refused(t, "expired an hour ago", SendNegotiate(t, hc, nd, k.ForgedHeader(cl, now.Add(-10*time.Hour), now.Add(-time.Hour))), "krb_ticket_expired")
			refused(t, "valid from in an hour", SendNegotiate(t, hc, nd, k.ForgedHeader(cl, now.Add(time.Hour), now.Add(2*time.Hour))), "krb_clock_skew")
			// The same forgery, valid now, is accepted: the refusals above
			// are about the times only.
			login(t, "forged but current", SendNegotiate(t, hc, nd, k.ForgedHeader(cl, now.Add(-time.Minute), now.Add(time.Hour))), "kalice", c.Nodes[1])
		})
		t.Run("disabled account", func(t *testing.T) {
			refused(t, "dora (disabled)", k.Curl(k.Kinit("dora@"+krbRealm), nd, c.CA), "krb_disabled", "disabled")
		})
	})

	t.Run("keytab rotation without a restart", func(t *testing.T) {
		before := k.GoClient("alice@" + krbRealm)
		old := k.Header(before, krbService) // made with key version 1, not sent yet
		rotate := func(hup bool) int {
			t.Helper()
			kvno, err := k.main.ChangeKey(krbService)
			if err != nil {
				t.Fatal(err)
			}
			// Written over the configured path in one rename.
			if err := k.main.Keytab(k.Keytab, krbService); err != nil {
				t.Fatal(err)
			}
			if hup {
				for _, nd := range c.Nodes {
					if err := syscall.Kill(nd.PID(), syscall.SIGHUP); err != nil {
						t.Fatal(err)
					}
				}
				for _, nd := range c.Nodes {
					Eventually(t, 5*time.Second, nd.ID+" logs the SIGHUP reload", func() bool {
						b, _ := os.ReadFile(nd.Log)
						return strings.Count(string(b), "SIGHUP: keytab reloaded") >= 1
					})
				}
			}
			cl := k.GoClient("alice@" + krbRealm)
			for _, nd := range c.Nodes {
				Eventually(t, 15*time.Second, "node "+nd.ID+" accepts a ticket of the new key", func() bool {
					return SendNegotiate(t, hc, nd.URL(), k.Header(cl, krbService)).Status == http.StatusOK
				})
			}
			return kvno
		}
		if kvno := rotate(false); kvno < 2 {
			t.Fatalf("new key version %d", kvno)
		}
		refused(t, "a ticket of the retired key", SendNegotiate(t, hc, c.Nodes[0].URL(), old), "krb_integrity")
		// The same by SIGHUP, and curl with a new cache.
		rotate(true)
		login(t, "curl after two rotations", k.Curl(k.Kinit("alice@"+krbRealm), hap.URL(), c.CA), "kalice", c.Nodes[0])
		for _, nd := range c.Nodes {
			if !nd.Running() {
				t.Errorf("%s stopped during the rotations", nd.ID)
			}
		}
	})
}

// waitApplied waits until every node has applied index idx.
func waitApplied(t *testing.T, c *Cluster, idx uint64) {
	t.Helper()
	for _, nd := range c.Nodes {
		Eventually(t, 10*time.Second, nd.ID+" applies the set-up", func() bool {
			st, ok := nd.Status()
			return ok && st.AppliedIndex >= idx
		})
	}
}

// sessionOwner is the node part of a session id ("<node>.<random>").
func sessionOwner(id string) string {
	owner, _, _ := strings.Cut(id, ".")
	return owner
}
