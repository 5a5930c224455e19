package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/gatehouse-idm/gatehouse/ops/config"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/gatehouse-idm/gatehouse/ops/slapd"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup/oidcuptest"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/samlsp"
)

// Secrets of TestSSOMore, searched for in every node file at the end.
const (
	zitadelSecret = "zitadel-client-secret-4c7e1b"
	hubSecret     = "hub-client-secret-a19d33"
)

// moreEnv is the cluster of TestSSOMore and its providers.
type moreEnv struct {
	*ssoEnv
	cli                       *cliUser // admin (system_admins) with a read-write session
	zop                       *zitadelOP
	hub                       *oidcuptest.Provider
	idp                       *samlIdP
	dir                       *slapd.Server
	spKey, spCert             string
	zitadel, link, saml, ldap string // provider uuids
}

// TestSSOMore closes the acceptance gaps of issue 6 on one three-node
// cluster behind HAProxy round robin (begin and callback on different
// nodes, told apart by X-Gatehouse-Node):
//   - OIDC against zitadel/oidc's example OP (not our code): JIT creation
//     with username fallbacks, pending approval, admin enablement;
//   - linking a second provider while signed in, listing and unlinking
//     (not the last way to log in);
//   - SAML: unsigned and signature-wrapped responses refused at the ACS;
//   - the local-auth switch and per-user overrides (CLI);
//   - rotate-encryption-key leaves the OIDC, LDAP and SAML providers
//     working and no old secret is found in clear in any node file.
//
// The subtests share the cluster and run in order: each relies on the
// accounts the earlier ones made.
func TestSSOMore(t *testing.T) {
	ctx := context.Background()
	m := &moreEnv{zop: newZitadelOP(t), idp: newSAMLIdP(t)}
	var err error
	if m.dir, err = slapd.Start(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.dir.Stop)
	m.hub = oidcuptest.New(t, oidcuptest.Options{ClientSecret: hubSecret,
		User: oidcuptest.User{Sub: "hub-jane-01", Email: "jane.elsewhere@example.com", PreferredUsername: "jd-hub"}})
	// The zitadel OP, oidcuptest and crewjam's IdP all serve httptest's
	// certificate; the nodes and the browser trust it.
	m.ssoEnv = startSSOWith(t, "snapshot_threshold = 8\nsnapshot_interval_ms = 300\n", m.zop.CertPEM(), m.hub.CertPEM(),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.idp.srv.Certificate().Raw}))
	m.cli = cliAs(t, m.c, m.c.Nodes[0], m.admin.Token())

	m.zitadel = m.createProvider(map[string]any{"name": "Zitadel", "type": "oidc", "enabled": true, "client_id": "gatehouse",
		"client_secret": zitadelSecret, "discovery_url": m.zop.URL()})
	m.zop.addClient("gatehouse", zitadelSecret, "https://localhost/ui/sso/callback/"+m.zitadel)
	m.zop.addUser("jane", "jane-at-zitadel-1", storage.User{ID: "z-jane", Username: "Jane.Doe@corp.example",
		FirstName: "Jane", LastName: "Doe", Email: "jane.doe@corp.example", EmailVerified: true})
	// No preferred_username: the name comes from "name".
	m.zop.addUser("zed", "zed-at-zitadel-2", storage.User{ID: "z-zed", FirstName: "Zed", LastName: "Fallback",
		Email: "zed@corp.example"})
	// Neither preferred_username nor a usable name (" "): the e-mail address.
	m.zop.addUser("zoe", "zoe-at-zitadel-3", storage.User{ID: "z-zoe", Email: "Zoe.Q@corp.example", EmailVerified: true})
	m.link = m.createProvider(map[string]any{"name": "Hub", "type": "oidc", "enabled": true, "client_id": "client",
		"client_secret": hubSecret, "discovery_url": m.hub.URL()})
	if m.spKey, m.spCert, err = samlsp.GenerateSPKey("https://localhost/sp", 2048, time.Now()); err != nil {
		t.Fatal(err)
	}
	m.saml = m.createProvider(map[string]any{"name": "Okta", "type": "saml", "enabled": true, "auto_enable": true,
		"sp_entity_id": "https://localhost/sp", "idp_entity_id": m.idp.idp.MetadataURL.String(),
		"idp_sso_url": m.idp.idp.SSOURL.String(), "idp_cert": m.idp.certPEM, "sp_key": m.spKey, "sp_cert": m.spCert})
	m.ldap = m.createProvider(map[string]any{"name": "Directory", "type": "ldap", "enabled": true, "auto_enable": true,
		"url": m.dir.LDAPSURL(), "bind_dn": m.dir.ServiceDN(), "bind_password": m.dir.ServicePassword(), "base_dn": m.dir.BaseDN(),
		"user_filter": slapd.UserFilter, "ca_cert": m.dir.CACertPEM()})

	var jane *browser // jane's signed-in browser, for linking
	t.Run("zitadel OP: JIT creation, username fallbacks, pending approval then enablement", func(t *testing.T) {
		jane = m.testZitadelJIT(t, ctx)
	})
	t.Run("link a second provider while signed in, list, unlink", func(t *testing.T) {
		if jane == nil {
			t.Fatal("no signed-in browser from the zitadel subtest")
		}
		m.testLinking(t, jane)
	})
	t.Run("SAML ACS refuses doctored responses", func(t *testing.T) {
		st, md := m.browser().get("https://localhost/ui/sso/saml/" + m.saml + "/metadata")
		if st != http.StatusOK {
			t.Fatalf("metadata: %d %s", st, md)
		}
		m.idp.setSP(t, md, true) // signed, not encrypted: the signatures can be taken off
		samlRefusals(t, m.ssoEnv, m.idp, m.saml)
	})
	t.Run("local-auth switch and per-user overrides", func(t *testing.T) {
		m.testOverrides(t, ctx)
	})
	t.Run("rotate-encryption-key leaves every provider working", func(t *testing.T) {
		m.testRotation(t)
	})
}

func (m *moreEnv) beginURL(provider string) string {
	return "https://localhost/ui/sso/login/" + provider
}

// zitadelLogin logs a zitadel user in through a fresh browser.
func (m *moreEnv) zitadelLogin(t *testing.T, login, password string) (*browser, int, string) {
	t.Helper()
	b := m.browser()
	st, body := m.zop.login(t, b, m.beginURL(m.zitadel), login, password)
	return b, st, body
}

func (m *moreEnv) testZitadelJIT(t *testing.T, ctx context.Context) *browser {
	b, st, body := m.zitadelLogin(t, "jane", "jane-at-zitadel-1")
	if st != http.StatusForbidden || !strings.Contains(body, "Pending approval") {
		t.Fatalf("first login: want 403 Pending approval, got %d %s legs %+v", st, body, b.legs)
	}
	b.crossNode("jane's first login", "/ui/sso/callback/")
	if _, _, ok := b.session(); ok {
		t.Fatal("a pending account got a session")
	}
	m.sync2()
	p, ok := m.person("jane.doe")
	if !ok || !p.Disabled {
		t.Fatalf("jane.doe (from preferred_username Jane.Doe@corp.example) after the first login: %+v %v", p, ok)
	}
	// The CLI enables her, as the docs tell an administrator to.
	m.cli.ok("", "person", "update", "jane.doe", "--disabled", "false")
	waitApplied(t, m.c, m.maxApplied())
	b, st, body = m.zitadelLogin(t, "jane", "jane-at-zitadel-1")
	if st != http.StatusOK {
		t.Fatalf("after enabling: %d %s legs %+v", st, body, b.legs)
	}
	b.crossNode("jane's second login", "/ui/sso/callback/")
	if name, mech, ok := b.session(); !ok || name != "jane.doe" || mech != "sso" {
		t.Fatalf("jane's session: %q %q %v", name, mech, ok)
	}

	// Username fallbacks: "name" when there is no preferred_username, the
	// e-mail address when "name" normalises to nothing.
	for _, c := range []struct{ login, pw, account string }{
		{"zed", "zed-at-zitadel-2", "zed-fallback"},
		{"zoe", "zoe-at-zitadel-3", "zoe.q"},
	} {
		b, st, body := m.zitadelLogin(t, c.login, c.pw)
		if st != http.StatusForbidden || !strings.Contains(body, "Pending approval") {
			t.Fatalf("%s: want 403 Pending approval, got %d %s", c.login, st, body)
		}
		b.crossNode(c.login, "/ui/sso/callback/")
		m.sync2()
		if p, ok := m.person(c.account); !ok || !p.Disabled {
			t.Fatalf("%s: want a pending account %q, got %+v %v", c.login, c.account, p, ok)
		}
	}
	// A wrong password at the OP never reaches us.
	b = m.browser()
	if st, body := m.zop.login(t, b, m.beginURL(m.zitadel), "jane", "wrong"); st != http.StatusOK || !strings.Contains(body, "username or password wrong") {
		t.Fatalf("wrong password at the OP: %d %s", st, body)
	}
	return m.janeSignedIn(t)
}

// janeSignedIn signs jane in through zitadel and returns her browser.
func (m *moreEnv) janeSignedIn(t *testing.T) *browser {
	t.Helper()
	b, st, body := m.zitadelLogin(t, "jane", "jane-at-zitadel-1")
	if st != http.StatusOK {
		t.Fatalf("jane's zitadel login: %d %s legs %+v", st, body, b.legs)
	}
	return b
}

// maxApplied is the highest applied index of any node.
func (m *moreEnv) maxApplied() uint64 {
	var top uint64
	for _, nd := range m.c.Nodes {
		if st, ok := nd.Status(); ok && st.AppliedIndex > top {
			top = st.AppliedIndex
		}
	}
	return top
}

// ssoStanding is GET /v1/self/sso or /v1/person/{id}/sso.
type ssoStanding struct {
	Account    string `json:"account"`
	Identities []struct {
		Provider     string `json:"provider"`
		ProviderName string `json:"provider_name"`
		Subject      string `json:"subject"`
	} `json:"identities"`
	LocalAllowed bool `json:"local_allowed"`
	SSOAllowed   bool `json:"sso_allowed"`
}

func (s ssoStanding) providers() []string {
	var out []string
	for _, i := range s.Identities {
		out = append(out, i.ProviderName)
	}
	return out
}

func (m *moreEnv) testLinking(t *testing.T, jane *browser) {
	st, body := jane.get(m.beginURL(m.link) + "?link=1")
	if st != http.StatusOK {
		t.Fatalf("link Hub: %d %s legs %+v", st, body, jane.legs)
	}
	jane.crossNode("link", "/ui/sso/callback/")
	// Still jane's session (linking does not log in as someone else).
	if name, _, ok := jane.session(); !ok || name != "jane.doe" {
		t.Fatalf("session after linking: %q %v", name, ok)
	}
	m.sync2()
	var self ssoStanding
	st, body = jane.get("https://localhost/v1/self/sso")
	if err := json.Unmarshal([]byte(body), &self); st != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/self/sso: %d %s", st, body)
	}
	if got := strings.Join(self.providers(), ","); self.Account != "jane.doe" || len(self.Identities) != 2 ||
		!strings.Contains(got, "Zitadel") || !strings.Contains(got, "Hub") {
		t.Fatalf("jane's identities: %+v", self)
	}
	out := m.cli.ok("", "person", "sso", "list", "jane.doe")
	wantLines(t, "person sso list", out, "Zitadel", "z-jane", "Hub", "hub-jane-01")

	// A browser without a session cannot link.
	if st, body := m.browser().get(m.beginURL(m.link) + "?link=1"); st != http.StatusUnauthorized {
		t.Fatalf("link without a session: %d %s", st, body)
	}

	// Unlink Zitadel (Hub remains), then the last one is refused.
	m.cli.ok("", "person", "sso", "unlink", "jane.doe", "Zitadel", "z-jane")
	m.cli.fails("this is the last way jane.doe can log in", "person", "sso", "unlink", "jane.doe", "Hub", "hub-jane-01")
	waitApplied(t, m.c, m.maxApplied())
	if p := m.standing(t, "jane.doe"); len(p.Identities) != 1 || p.Identities[0].ProviderName != "Hub" {
		t.Fatalf("after unlinking Zitadel: %+v", p)
	}
	// Her next zitadel login links again by her verified e-mail address.
	b := m.janeSignedIn(t)
	if name, _, ok := b.session(); !ok || name != "jane.doe" {
		t.Fatalf("relinked by e-mail: session %q %v", name, ok)
	}
	m.sync2()
	if p := m.standing(t, "jane.doe"); len(p.Identities) != 2 {
		t.Fatalf("after the zitadel login: %+v", p)
	}

	// Another signed-in account cannot take jane's Hub identity.
	m.cli.ok("", "person", "update", "zoe.q", "--disabled", "false")
	waitApplied(t, m.c, m.maxApplied())
	zoe, st, body := m.zitadelLogin(t, "zoe", "zoe-at-zitadel-3")
	if st != http.StatusOK {
		t.Fatalf("zoe: %d %s", st, body)
	}
	if st, body := zoe.get(m.beginURL(m.link) + "?link=1"); st != http.StatusForbidden || !strings.Contains(body, "already linked to another account") {
		t.Fatalf("zoe links jane's Hub identity: %d %s", st, body)
	}
	m.sync2()
	if p := m.standing(t, "zoe.q"); len(p.Identities) != 1 || p.Identities[0].ProviderName != "Zitadel" {
		t.Fatalf("zoe's identities after the refused link: %+v", p)
	}
}

// standing is a person's SSO standing as the admin reads it.
func (m *moreEnv) standing(t *testing.T, name string) ssoStanding {
	t.Helper()
	var s ssoStanding
	if _, err := m.admin.Do(context.Background(), "GET", "/v1/person/"+name+"/sso", nil, &s); err != nil {
		t.Fatalf("sso standing of %s: %v", name, err)
	}
	return s
}

func (m *moreEnv) testOverrides(t *testing.T, ctx context.Context) {
	janePW := strongPassword()
	m.cli.ok(janePW+"\n", "person", "set-password", "jane.doe")
	idmPW := m.c.Recover(m.c.Nodes[1], "idm_admin")
	waitApplied(t, m.c, m.maxApplied())
	anon := m.c.Client(m.c.Nodes[2], "")
	if _, err := anon.LoginPassword(ctx, "jane.doe", janePW); err != nil {
		t.Fatalf("jane's password login while local auth is on: %v", err)
	}

	// No administrator could log in without local auth: refused, with the
	// seed's warning, and nothing changes.
	r := m.cli.run("", "sso", "settings", "set", "--local-auth", "false")
	if r.code != 1 || !strings.Contains(r.err, "Ensure at least one admin has SSO access before disabling") ||
		!strings.Contains(r.err, "local authentication cannot be disabled") {
		t.Fatalf("disabling local auth with no admin able to log in: exit %d\nstdout %s\nstderr %s", r.code, r.out, r.err)
	}
	if out := m.cli.ok("", "sso", "settings", "show"); !regexp.MustCompile(`(?i)local[ _-]?auth\S*\s+true`).MatchString(out) {
		t.Fatalf("settings after the refusal:\n%s", out)
	}

	// The break-glass override lets idm_admin keep logging in with a password.
	m.cli.ok("", "person", "sso", "override", "idm_admin", "--local-auth", "on", "--note", "break glass")
	r = m.cli.run("", "sso", "settings", "set", "--local-auth", "false")
	if r.code != 0 || !strings.Contains(r.err, "Ensure at least one admin has SSO access before disabling") {
		t.Fatalf("disabling local auth: exit %d\nstdout %s\nstderr %s", r.code, r.out, r.err)
	}
	waitApplied(t, m.c, m.maxApplied())
	defer func() {
		m.cli.ok("", "sso", "settings", "set", "--local-auth", "true")
		waitApplied(t, m.c, m.maxApplied())
	}()
	for _, nd := range m.c.Nodes {
		if _, err := m.c.Client(nd, "").LoginPassword(ctx, "jane.doe", janePW); err == nil ||
			!strings.Contains(err.Error(), "local authentication is disabled for this account; sign in through a single sign-on provider") {
			t.Fatalf("jane's password login at %s with local auth off: %v", nd.ID, err)
		}
	}
	// The refusal comes only after the password: a wrong one is just wrong.
	if _, err := anon.LoginPassword(ctx, "jane.doe", "not-her-password-1"); err == nil || strings.Contains(err.Error(), "local authentication is disabled") {
		t.Fatalf("wrong password with local auth off: %v", err)
	}
	if b, st, body := m.zitadelLogin(t, "jane", "jane-at-zitadel-1"); st != http.StatusOK {
		t.Fatalf("jane's SSO login with local auth off: %d %s", st, body)
	} else if name, _, ok := b.session(); !ok || name != "jane.doe" {
		t.Fatalf("jane's SSO session: %q %v", name, ok)
	}
	if _, err := m.c.Client(m.c.Nodes[2], "").LoginPassword(ctx, "idm_admin", idmPW); err != nil {
		t.Fatalf("idm_admin (local-auth override on) with local auth off: %v", err)
	}
	// Taking the break-glass override away would lock every admin out.
	m.cli.fails("would leave no member of system_admins or idm_admins able to log in",
		"person", "sso", "override", "idm_admin", "--local-auth", "default")

	// SSO off for jane: her upstream login is refused; back to default, it works.
	m.cli.ok("", "person", "sso", "override", "jane.doe", "--sso", "off", "--note", "left the company")
	waitApplied(t, m.c, m.maxApplied())
	b, st, body := m.zitadelLogin(t, "jane", "jane-at-zitadel-1")
	if st != http.StatusForbidden || !strings.Contains(body, "Single sign-on is turned off") {
		t.Fatalf("jane with SSO off: %d %s", st, body)
	}
	b.crossNode("jane with SSO off", "/ui/sso/callback/")
	if _, _, ok := b.session(); ok {
		t.Fatal("SSO off, yet a session")
	}
	if s := m.standing(t, "jane.doe"); s.SSOAllowed || s.LocalAllowed {
		t.Fatalf("jane's standing with SSO off and local auth off: %+v", s)
	}
	m.cli.ok("", "person", "sso", "override", "jane.doe", "--sso", "default")
	waitApplied(t, m.c, m.maxApplied())
	if _, st, body := m.zitadelLogin(t, "jane", "jane-at-zitadel-1"); st != http.StatusOK {
		t.Fatalf("jane with SSO back to default: %d %s", st, body)
	}
}

var x509CertRE = regexp.MustCompile(`<(?:\w+:)?X509Certificate[^>]*>([^<]+)<`)

func (m *moreEnv) spCertOf(t *testing.T) string {
	t.Helper()
	st, md := m.browser().get("https://localhost/ui/sso/saml/" + m.saml + "/metadata")
	c := x509CertRE.FindStringSubmatch(md)
	if st != http.StatusOK || c == nil {
		t.Fatalf("metadata: %d %s", st, md)
	}
	return strings.Join(strings.Fields(c[1]), "")
}

// samlLogin logs in through crewjam's IdP (salice) and returns the account.
func (m *moreEnv) samlLogin(t *testing.T) string {
	t.Helper()
	st, md := m.browser().get("https://localhost/ui/sso/saml/" + m.saml + "/metadata")
	if st != http.StatusOK {
		t.Fatalf("metadata: %d", st)
	}
	m.idp.setSP(t, md, false) // encrypted to the SP key
	b := m.browser()
	st, body := b.get(m.beginURL(m.saml))
	if st != http.StatusOK {
		t.Fatalf("SAML begin: %d %s", st, body)
	}
	begin := b.legs[0].Node
	if st, body = b.postSAML(parseSAMLForm(t, body), m.idp.srv.URL, nil); st != http.StatusOK {
		t.Fatalf("SAML ACS: %d %s", st, body)
	}
	if acs, ok := b.legAt("/ui/sso/saml/"); !ok || acs.Node == "" || acs.Node == begin {
		t.Fatalf("SAML begin at %q, ACS at %+v", begin, b.legs)
	}
	if st, body := b.get("https://localhost/v1/session"); st != http.StatusOK {
		m.sync2()
		st2, body2 := b.get("https://localhost/v1/session")
		t.Fatalf("session right after the SAML login: %d %s at %+v; after every node applied the last write: %d %s", st, body, b.legs, st2, body2)
	}
	name, _, ok := b.session()
	if !ok {
		t.Fatal("no session after the SAML login")
	}
	return name
}

// ldapBind checks that alice's bind through the provider works (the
// service bind opens the bind password): she holds no TOTP, so the
// answer is the second-factor refusal that only follows a good bind.
func (m *moreEnv) ldapBind(t *testing.T) {
	t.Helper()
	var a struct{ Error, Code string }
	st := m.browser().postJSON("/v1/sso/ldap/"+m.ldap, map[string]any{"username": "alice", "password": "alice-secret-1", "issue": "cookie"}, &a)
	if st != http.StatusForbidden || a.Code != "no_second_factor" {
		t.Fatalf("alice's LDAP bind: %d %+v", st, a)
	}
}

func (m *moreEnv) testRotation(t *testing.T) {
	certBefore := m.spCertOf(t)
	if got := m.samlLogin(t); got != "salice" {
		t.Fatalf("SAML login before the rotation: %q", got)
	}
	m.ldapBind(t)

	keyFile := filepath.Join(m.c.PKI, "encryption.key")
	before, err := config.LoadKeyring(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	out := m.cli.ok("", "cluster", "rotate-encryption-key")
	after, err := config.LoadKeyring(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || seal.IDOf(after[0]) == seal.IDOf(before[0]) {
		t.Fatalf("after rotate-encryption-key (%s) the key file holds %d keys, first %s (was %s)", out, len(after), seal.IDOf(after[0]), seal.IDOf(before[0]))
	}
	waitApplied(t, m.c, m.maxApplied())

	// Every provider works through the re-sealed secrets.
	for _, p := range []string{"Zitadel", "Directory"} {
		if r := m.cli.run("", "sso", "provider", "test", p); r.code != 0 {
			t.Errorf("provider test %s after the rotation: exit %d\n%s%s", p, r.code, r.out, r.err)
		}
	}
	// The shared test IdP's certificate lives one day, which the test
	// reports as expiring soon; the SP key check is the one at stake here.
	if r := m.cli.run("", "sso", "provider", "test", "Okta"); !regexp.MustCompile(`(?m)^ok +SP key pair`).MatchString(r.out) {
		t.Errorf("provider test Okta after the rotation: exit %d\n%s%s", r.code, r.out, r.err)
	}
	b, st, body := m.zitadelLogin(t, "jane", "jane-at-zitadel-1") // client secret at the token endpoint
	if st != http.StatusOK {
		t.Fatalf("zitadel login after the rotation: %d %s", st, body)
	}
	b.crossNode("zitadel after the rotation", "/ui/sso/callback/")
	m.ldapBind(t)
	if got := m.samlLogin(t); got != "salice" { // AuthnRequest signed and assertion decrypted with the SP key
		t.Fatalf("SAML login after the rotation: %q", got)
	}
	if after := m.spCertOf(t); after != certBefore {
		t.Fatal("the SP certificate in the metadata changed with the rotation")
	}
	if blk, _ := pem.Decode([]byte(m.spCert)); blk == nil || base64.StdEncoding.EncodeToString(blk.Bytes) != certBefore {
		t.Fatal("the metadata does not carry the SP certificate the admin supplied")
	}
	m.noSecretInClear(t)
}

// noSecretInClear searches every file of every node (Raft log, state,
// snapshots, logs) for the provider secrets in clear.
func (m *moreEnv) noSecretInClear(t *testing.T) {
	for _, nd := range m.c.Nodes {
		Eventually(t, 20*time.Second, nd.ID+" writes a snapshot", func() bool {
			return len(snapshotIndexes(t, nd)) > 0
		})
	}
	time.Sleep(time.Second) // at least one snapshot interval after the last write
	blk, _ := pem.Decode([]byte(m.spKey))
	needles := []needle{
		newNeedle("zitadel client secret", []byte(zitadelSecret)),
		newNeedle("Hub client secret", []byte(hubSecret)),
		newNeedle("LDAP bind password", []byte(m.dir.ServicePassword())),
		newNeedle("SP private key", blk.Bytes),
		newNeedle("SP private key (PEM body)", []byte(strings.Split(m.spKey, "\n")[1])),
	}
	files := filesUnder(t, m.c.Dir)
	if len(files) < 10 {
		t.Fatalf("only %d files to search", len(files))
	}
	for _, n := range needles {
		if hits := findIn(t, files, n); len(hits) > 0 {
			t.Errorf("%s found in clear: %v", n.name, hits)
		}
	}
}
