package sso

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/idmtest"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

var (
	admin    = idm.Actor{UUID: entry.UUIDAdmin, Name: "admin"}
	idmAdmin = idm.Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}
)

func str(s string) *string { return &s }
func yes() *bool           { t := true; return &t }
func no() *bool            { f := false; return &f }

type world struct {
	*idmtest.World
	sso *Service
}

func newWorld(t *testing.T) *world {
	w := idmtest.New(t, nil)
	return &world{World: w, sso: New(w.Svc, w.Sealer, idmtest.Issuer)}
}

func (w *world) oidc(t *testing.T, name string, mod func(*ProviderInput)) *entry.SSOProvider {
	t.Helper()
	in := ProviderInput{Name: str(name), Type: "oidc", ClientID: str("gatehouse"), ClientSecret: str("s3cret-client-" + name),
		DiscoveryURL: str("https://idp.example.com/" + name)}
	if mod != nil {
		mod(&in)
	}
	p, _, err := w.sso.CreateProvider(context.Background(), admin, in)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) person(t *testing.T, name string, mail ...string) *entry.Entry {
	t.Helper()
	e, _, err := w.Svc.Create(context.Background(), idmAdmin, entry.Person, idm.Input{Name: str(name), Mail: &mail})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestProvidersAreManagedBySystemAdminsAndSecretsSealed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	in := ProviderInput{Name: str("Corp"), Type: "oidc", ClientID: str("c"), ClientSecret: str("plain-client-secret-xyz"), DiscoveryURL: str("https://idp.example.com")}
	if _, _, err := w.sso.CreateProvider(ctx, idmAdmin, in); err == nil || !strings.Contains(err.Error(), "system_admins") {
		t.Fatalf("idm_admin created a provider: %v", err)
	}
	p, _, err := w.sso.CreateProvider(ctx, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if sec, err := w.sso.Open(p, FieldClientSecret); err != nil || sec != "plain-client-secret-xyz" {
		t.Fatalf("open: %q %v", sec, err)
	}
	if v := w.sso.View(p); !v.HasClientSecret || v.CallbackURL != idmtest.Issuer+"/ui/sso/callback/"+p.UUID || len(v.Scopes) != 3 {
		t.Fatalf("view: %+v", v)
	}
	if _, _, err := w.sso.CreateProvider(ctx, admin, ProviderInput{Name: str("corp"), Type: "ldap", URL: str("ldaps://x"), BaseDN: str("dc=x")}); err == nil {
		t.Fatal("a second provider named corp was created")
	}
	// The plain secret never reaches the state file.
	var dump bytes.Buffer
	if err := w.FSM.Dump(&dump); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dump.Bytes(), []byte("plain-client-secret-xyz")) {
		t.Fatal("the client secret is in the state in clear")
	}
	// Update keeps the secret unless a new one is given; skip_verify
	// needs the confirmation.
	l, _, err := w.sso.CreateProvider(ctx, admin, ProviderInput{Name: str("Dir"), Type: "ldap", URL: str("ldaps://ldap.example.com"),
		BaseDN: str("dc=example,dc=com"), BindDN: str("cn=svc"), BindPassword: str("bind-pw-secret")})
	if err != nil {
		t.Fatal(err)
	}
	if l.LDAP.UserFilter != "(&(objectClass=person)(uid=%s))" {
		t.Fatalf("default filter %q", l.LDAP.UserFilter)
	}
	if _, _, err := w.sso.UpdateProvider(ctx, admin, "Dir", ProviderInput{SkipVerify: yes()}); err == nil || !strings.Contains(err.Error(), "i_understand_skip_verify") {
		t.Fatalf("skip_verify without confirmation: %v", err)
	}
	l, _, err = w.sso.UpdateProvider(ctx, admin, "Dir", ProviderInput{SkipVerify: yes(), ConfirmSkipVerify: true, Enabled: no()})
	if err != nil || !l.LDAP.SkipVerify || l.Enabled || len(w.sso.View(l).Warnings) != 1 {
		t.Fatalf("skip_verify confirmed: %+v %v", l, err)
	}
	if pw, _ := w.sso.Open(l, FieldBindPassword); pw != "bind-pw-secret" {
		t.Fatalf("bind password after update: %q", pw)
	}
	if _, _, err := w.sso.UpdateProvider(ctx, admin, "Dir", ProviderInput{ClientID: str("x")}); err == nil {
		t.Fatal("an OIDC setting was accepted for an LDAP provider")
	}
	n, _, err := w.sso.DeleteProvider(ctx, admin, "Dir", false)
	if err != nil || n != 0 {
		t.Fatalf("delete: %d %v", n, err)
	}
}

func TestSAMLProviderGetsAGeneratedSPKey(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, _, err := w.sso.CreateProvider(ctx, admin, ProviderInput{Name: str("Okta"), Type: "saml", IdPEntityID: str("http://www.okta.com/x"),
		IdPSSOURL: str("https://okta.example.com/sso"), IdPCert: str("MIIB"), SPKeyBits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	key, err := w.sso.Open(p, FieldSPKey)
	if err != nil || !strings.Contains(key, "PRIVATE KEY") || !strings.Contains(p.SAML.SPCert, "CERTIFICATE") {
		t.Fatalf("SP key: %v", err)
	}
	v := w.sso.View(p)
	if v.SPEntityID != v.MetadataURL || v.ACSURL != idmtest.Issuer+"/ui/sso/saml/"+p.UUID+"/acs" || !v.HasSPKey {
		t.Fatalf("view: %+v", v)
	}
	var dump bytes.Buffer
	w.FSM.Dump(&dump)
	body := strings.Split(strings.TrimSpace(key), "\n")[1]
	if bytes.Contains(dump.Bytes(), []byte(body)) {
		t.Fatal("the SP private key is in the state in clear")
	}
	// Saving again keeps the key; a mismatched admin pair is refused.
	p2, _, err := w.sso.UpdateProvider(ctx, admin, p.UUID, ProviderInput{Enabled: yes()})
	if err != nil || p2.SAML.SPCert != p.SAML.SPCert {
		t.Fatalf("save kept the key? %v", err)
	}
	if _, _, err := w.sso.UpdateProvider(ctx, admin, p.UUID, ProviderInput{SPKey: str(key), SPCert: str("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}); err == nil {
		t.Fatal("a key with a foreign certificate was accepted")
	}
}

func TestResolveLinksByVerifiedEmailOnly(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p := w.oidc(t, "Corp", nil)
	alice := w.person(t, "alice", "alice@example.com")
	// Unverified: no link; a new pending account instead, without the mail.
	out, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "s-1", Email: "alice@example.com",
		Claims: map[string]any{"preferred_username": "alice"}}, "")
	if err != nil || !out.Created || out.Account.UUID == alice.UUID || !out.Pending || len(out.Account.Mail) != 0 {
		t.Fatalf("unverified: %+v %v", out, err)
	}
	if out.Username != "alice-2" || !strings.Contains(strings.Join(out.Notes, ";"), "taken") {
		t.Fatalf("collision: %q %v", out.Username, out.Notes)
	}
	// Verified: linked to alice.
	out, err = w.sso.Resolve(ctx, p, upstream.Identity{Subject: "s-2", Email: "ALICE@example.com", EmailVerified: true}, "")
	if err != nil || !out.Linked || out.Account.UUID != alice.UUID || out.Pending {
		t.Fatalf("verified: %+v %v", out, err)
	}
	// Next time the link itself answers.
	out, err = w.sso.Resolve(ctx, p, upstream.Identity{Subject: "s-2"}, "")
	if err != nil || out.Linked || out.Created || out.Account.UUID != alice.UUID {
		t.Fatalf("existing link: %+v %v", out, err)
	}
	// Never linked by e-mail to an administrator.
	w.person(t, "boss", "boss@example.com")
	if _, _, err := w.Svc.ChangeMembers(ctx, admin, "idm_admins", []string{"boss"}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "s-3", Email: "boss@example.com", EmailVerified: true}, ""); !errors.Is(err, ErrAdminEmail) {
		t.Fatalf("admin by e-mail: %v", err)
	}
	// Linking while logged in.
	out, err = w.sso.Resolve(ctx, p, upstream.Identity{Subject: "s-4"}, "boss")
	if err != nil || !out.Linked || out.Account.Name != "boss" {
		t.Fatalf("linkTo: %+v %v", out, err)
	}
	if _, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "s-4"}, "alice"); !errors.Is(err, ErrLinkedElsewhere) {
		t.Fatalf("linked elsewhere: %v", err)
	}
}

func TestResolveCreatesByOverrideAndRefusesWhenOff(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p := w.oidc(t, "Corp", func(in *ProviderInput) { in.AutoEnable = Override{Set: true, Value: yes()} })
	out, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "x", Claims: map[string]any{"login": "Octo Cat"}}, "")
	if err != nil || !out.Created || out.Pending || out.Account.Disabled || out.Username != "octo-cat" {
		t.Fatalf("auto-enabled: %+v %v", out, err)
	}
	if _, _, err := w.sso.SetSettings(ctx, admin, SettingsInput{AutoCreate: no()}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "y"}, ""); !errors.Is(err, ErrNoAccount) || err.Error() != "no account for this identity and automatic creation is off" {
		t.Fatalf("auto-create off: %v", err)
	}
	q := w.oidc(t, "Other", func(in *ProviderInput) { in.AutoCreate = Override{Set: true, Value: yes()} })
	out, err = w.sso.Resolve(ctx, q, upstream.Identity{Subject: "y", Email: "Zed.Z@example.com"}, "")
	if err != nil || !out.Created || !out.Pending || out.Username != "zed.z" {
		t.Fatalf("provider override on: %+v %v", out, err)
	}
	// Pending until an admin enables the account.
	en := false
	if _, _, err := w.Svc.Update(ctx, idmAdmin, entry.Person, "zed.z", idm.Input{Disabled: &en}); err != nil {
		t.Fatal(err)
	}
	if out, err := w.sso.Resolve(ctx, q, upstream.Identity{Subject: "y"}, ""); err != nil || out.Pending {
		t.Fatalf("after approval: %+v %v", out, err)
	}
}

func TestUsernameFallbacksAndDeniedNames(t *testing.T) {
	id := upstream.Identity{Subject: "sub", Email: "mail.name@example.com", Claims: map[string]any{
		"upn": "U.P.N@corp.example", "preferred_username": "Pref", "username": "user", "user_name": "user_n",
		"login": "log", "nickname": "nick", "name": "Full Name"}}
	order := []struct{ drop, want string }{{"upn", "u.p.n"}, {"preferred_username", "pref"}, {"username", "user"},
		{"user_name", "user_n"}, {"login", "log"}, {"nickname", "nick"}, {"name", "full-name"}, {"", "mail.name"}}
	for _, o := range order {
		if got, _ := UsernameFrom("upn", id); got != o.want {
			t.Fatalf("with %v: got %q, want %q", id.Claims, got, o.want)
		}
		delete(id.Claims, o.drop)
	}
	id.Email = ""
	if got, from := UsernameFrom("", id); !strings.HasPrefix(got, "user-") || from != "" {
		t.Fatalf("no claims: %q %q", got, from)
	}
	for in, want := range map[string]string{"  Jöhn  Doe ": "jhn-doe", "123abc": "abc", "-._": "", "a..b": "a.b", strings.Repeat("x", 80): strings.Repeat("x", 64)} {
		if got := NormaliseName(in); got != want {
			t.Errorf("NormaliseName(%q) = %q, want %q", in, got, want)
		}
	}
	w := newWorld(t)
	ctx := context.Background()
	p := w.oidc(t, "Corp", nil)
	// A taken name: deterministic suffixes, then a hash.
	w.person(t, "carol")
	out, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "c", Claims: map[string]any{"preferred_username": "Carol"}}, "")
	if err != nil || out.Username != "carol-2" {
		t.Fatalf("taken: %+v %v", out, err)
	}
	for i := 3; i <= 9; i++ {
		w.person(t, "carol-"+string(rune('0'+i)))
	}
	out, err = w.sso.Resolve(ctx, p, upstream.Identity{Subject: "b", Claims: map[string]any{"preferred_username": "carol"}}, "")
	if err != nil || !strings.HasPrefix(out.Username, "carol-") || len(out.Username) != len("carol-")+8 {
		t.Fatalf("hash suffix: %+v %v", out, err)
	}
	// Built-in and denied names, and names that start like them, never
	// become "admin-2" or "root-2": the subject-derived name instead.
	if !w.FSM.IsDenied("root") {
		t.Fatal("test expects root to be denied")
	}
	for sub, claim := range map[string]string{"a": "admin", "r": "root", "i": "IDM_Admin", "s": "system_admins.x", "d": "Administrator-Ops"} {
		out, err = w.sso.Resolve(ctx, p, upstream.Identity{Subject: sub, Claims: map[string]any{"preferred_username": claim}}, "")
		want, _ := UsernameFrom("", upstream.Identity{Subject: sub})
		if err != nil || out.Username != want {
			t.Errorf("claim %q: %+v %v, want %q", claim, out, err, want)
		}
	}
}

func TestUnlinkRefusesTheLastWayToLogIn(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p := w.oidc(t, "Corp", nil)
	q := w.oidc(t, "Other", nil)
	out, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "one", Claims: map[string]any{"login": "sam"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	sam := idm.Actor{UUID: out.Account.UUID, Name: "sam"}
	if _, err := w.sso.Link(ctx, "sam", q, upstream.Identity{Subject: "two"}); err != nil {
		t.Fatal(err)
	}
	// Another person may not unlink sam's identities.
	w.person(t, "eve")
	eve, _ := w.Svc.Lookup("eve")
	if _, _, err := w.sso.Unlink(ctx, idm.Actor{UUID: eve.UUID, Name: "eve"}, "sam", p.UUID, "one"); err == nil {
		t.Fatal("eve unlinked sam's identity")
	}
	if _, _, err := w.sso.Unlink(ctx, sam, "sam", "Corp", "one"); err != nil {
		t.Fatalf("sam unlinks one of two: %v", err)
	}
	if _, _, err := w.sso.Unlink(ctx, idmAdmin, "sam", q.UUID, "two"); err == nil || !strings.Contains(err.Error(), "last way") {
		t.Fatalf("last identity: %v", err)
	}
	if _, err := w.Svc.SetPassword(ctx, idmAdmin, "sam", "a long fallback password 9"); err != nil {
		t.Fatal(err)
	}
	if e, _, err := w.sso.Unlink(ctx, idmAdmin, "sam", q.UUID, "two"); err != nil || len(e.ExternalIDs) != 0 {
		t.Fatalf("with a password: %v", err)
	}
}

func TestOverridesAndTheLocalAuthSwitch(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p := w.oidc(t, "Corp", nil)
	dan := w.person(t, "dan")
	if !w.sso.LocalAllowed(dan) || !w.sso.SSOAllowed(dan) {
		t.Fatal("defaults")
	}
	// Nobody admin can log in through SSO: refused with the seed's warning.
	if _, _, err := w.sso.SetSettings(ctx, admin, SettingsInput{LocalAuth: no()}); err == nil || !strings.Contains(err.Error(), WarningLocalAuth) {
		t.Fatalf("lock-out: %v", err)
	}
	// The local-auth override of admin keeps the door open.
	if _, _, err := w.sso.SetOverrides(ctx, idmAdmin, "admin", OverridesInput{LocalAuth: Override{Set: true, Value: yes()}}); err == nil {
		t.Fatal("idm_admin changed admin's overrides")
	}
	if _, _, err := w.sso.SetOverrides(ctx, admin, "admin", OverridesInput{LocalAuth: Override{Set: true, Value: yes()}, Note: str("break-glass")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.sso.SetSettings(ctx, admin, SettingsInput{LocalAuth: no()}); err != nil {
		t.Fatal(err)
	}
	dan, _ = w.Svc.Lookup("dan")
	adm, _ := w.Svc.Lookup("admin")
	if w.sso.LocalAllowed(dan) || !w.sso.LocalAllowed(adm) {
		t.Fatal("switch and override not applied")
	}
	// Taking the override away now would lock everyone out.
	if _, _, err := w.sso.SetOverrides(ctx, admin, "admin", OverridesInput{LocalAuth: Override{Set: true}}); err == nil {
		t.Fatal("the last admin's override was removed while local auth is off")
	}
	// SSO off for a user: Resolve refuses it.
	if _, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "d"}, "dan"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.sso.SetOverrides(ctx, idmAdmin, "dan", OverridesInput{SSO: Override{Set: true, Value: no()}, LocalAuth: Override{Set: true, Value: yes()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "d"}, ""); !errors.Is(err, ErrSSOOff) {
		t.Fatalf("SSO off: %v", err)
	}
	dan, _ = w.Svc.Lookup("dan")
	if a := w.sso.Account(dan); !a.LocalAllowed || a.SSOAllowed || len(a.Identities) != 1 || a.Identities[0].ProviderName != "Corp" {
		t.Fatalf("account view: %+v", a)
	}
}

// A snapshot (the state file's bytes) never holds a provider secret in
// clear.
func TestSecretsNeverInTheStateFile(t *testing.T) {
	w := newWorld(t)
	w.oidc(t, "Corp", func(in *ProviderInput) { in.ClientSecret = str("needle-client-secret-42") })
	var snap bytes.Buffer
	if err := w.FSM.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if snap.Len() < 1000 || bytes.Contains(snap.Bytes(), []byte("needle-client-secret-42")) {
		t.Fatalf("snapshot of %d bytes holds the secret in clear (or is empty)", snap.Len())
	}
}

// An LDAP directory's mail links to an existing account only when the
// provider is marked to trust it.
func TestLDAPEmailLinksOnlyWhenTrusted(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, _, err := w.sso.CreateProvider(ctx, admin, ProviderInput{Name: str("Directory"), Type: "ldap", URL: str("ldaps://ldap.example.com"),
		BindDN: str("cn=svc,dc=example,dc=com"), BindPassword: str("pw"), BaseDN: str("dc=example,dc=com")})
	if err != nil {
		t.Fatal(err)
	}
	alice := w.person(t, "alice", "alice@example.com")
	out, err := w.sso.Resolve(ctx, p, upstream.Identity{Subject: "dn-1", Email: "alice@example.com", EmailVerified: true,
		Claims: map[string]any{"preferred_username": "alice"}}, "")
	if err != nil || out.Linked || out.Account.UUID == alice.UUID {
		t.Fatalf("untrusted directory mail linked: %+v %v", out, err)
	}
	yes := true
	if p, _, err = w.sso.UpdateProvider(ctx, admin, p.UUID, ProviderInput{TrustEmail: &yes}); err != nil {
		t.Fatal(err)
	}
	out, err = w.sso.Resolve(ctx, p, upstream.Identity{Subject: "dn-2", Email: "alice@example.com"}, "")
	if err != nil || !out.Linked || out.Account.UUID != alice.UUID {
		t.Fatalf("trusted directory mail: %+v %v", out, err)
	}
}
