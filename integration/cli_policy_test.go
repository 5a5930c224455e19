package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// oneNodeCLI starts a one-node cluster and returns a CLI user for it (its
// own token file) and the recovered password of account.
func oneNodeCLI(t *testing.T, account string) (*Cluster, *Node, *cliUser, string) {
	t.Helper()
	c := NewCluster(t, 1)
	c.StartAll()
	nd := c.WaitHealthy()
	pw := c.Recover(nd, account)
	u := &cliUser{t: t, env: []string{"GATEHOUSE_URL=" + nd.URL(), "GATEHOUSE_CA=" + c.CA,
		"GATEHOUSE_TOKEN_FILE=" + filepath.Join(t.TempDir(), "tokens.json")}}
	return c, nd, u, pw
}

// tokenClaims reads the claims of a session token (no verification: the
// server already did that; the test only reads the numbers).
func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Each account-policy command of account-policy.txt, driven through the CLI
// and checked by what it does to a member's logins and credentials.
func TestAccountPolicyCommandsTakeEffect(t *testing.T) {
	c, nd, u, idmPW := oneNodeCLI(t, "idm_admin")
	u.ok(idmPW+"\n", "login", "--name", "idm_admin", "--privileged")
	u.ok("", "person", "create", "mallory", "Mallory Member")
	u.ok("", "group", "create", "strict")
	u.ok("", "group", "add-members", "strict", "mallory")
	malloryPW := "plum-orchard-quietly-47-lanterns"
	u.ok(malloryPW+"\n", "person", "set-password", "mallory")
	ctx := context.Background()

	// Before enable, settings are refused.
	u.fails("enable", "group", "account-policy", "auth-expiry", "strict", "600")
	wantLines(t, "enable", u.ok("", "group", "account-policy", "enable", "strict"), "")

	// auth-expiry bounds a member's session: the smaller of strict's and
	// idm_all_persons' default wins.
	u.ok("", "group", "account-policy", "auth-expiry", "strict", "600")
	tok, err := c.Client(nd, "").LoginPassword(ctx, "mallory", malloryPW)
	if err != nil {
		t.Fatal(err)
	}
	cl := tokenClaims(t, tok)
	if life := cl["exp"].(float64) - cl["iat"].(float64); life < 590 || life > 610 {
		t.Fatalf("session lifetime under auth-expiry 600: %v s", life)
	}

	// privilege-expiry: 86400 is stored as 3600; a small value bounds the
	// read-write window after reauth.
	out := u.ok("", "group", "account-policy", "privilege-expiry", "strict", "86400")
	wantLines(t, "privilege-expiry 86400", u.ok("", "group", "account-policy", "show", "strict"), "privilege-expiry:", "3600 s")
	if strings.Contains(out, "86400 s") {
		t.Fatalf("86400 kept: %s", out)
	}
	u.ok("", "group", "account-policy", "privilege-expiry", "strict", "5")
	m := c.Client(nd, "")
	if _, err := m.LoginPrivileged(ctx, "mallory", malloryPW); err != nil {
		t.Fatal(err)
	}
	cl = tokenClaims(t, m.Token())
	if rw := cl["rw"].(float64) - float64(time.Now().Unix()); rw > 6 || rw < 0 {
		t.Fatalf("read-write window under privilege-expiry 5: %v s", rw)
	}

	// password-minimum-length: a strong but shorter password is refused.
	u.ok("", "group", "account-policy", "password-minimum-length", "strict", "40")
	r := u.run(malloryPW+"\n", "person", "set-password", "mallory")
	if r.code != 1 || !strings.Contains(r.err, "40") {
		t.Fatalf("a %d-character password under minimum 40: exit %d %s", len(malloryPW), r.code, r.err)
	}
	u.ok("", "group", "account-policy", "password-minimum-length", "strict", "12")

	// webauthn-attestation-ca-list: only devices under the listed CA enrol.
	ca, err := fidotest.NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal(map[string]any{"cas": map[string]any{"test-ca": map[string]any{
		"ca": base64.RawURLEncoding.EncodeToString(ca.DER()), "aaguids": map[string]string{ca.AAGUID(): "test device"}}}})
	u.ok("", "group", "account-policy", "webauthn-attestation-ca-list", "strict", string(list))
	var resolved struct {
		List *struct {
			CAs map[string]json.RawMessage `json:"cas"`
		} `json:"webauthn_attestation_ca_list"`
	}
	admin := c.Login(nd, "idm_admin", idmPW)
	if _, err := admin.Do(ctx, "GET", "/v1/account/mallory/policy", nil, &resolved); err != nil {
		t.Fatal(err)
	}
	if resolved.List == nil || len(resolved.List.CAs) != 1 {
		t.Fatalf("resolved CA list: %+v", resolved.List)
	}
	enrol := func(auth *fidotest.Authenticator) error {
		var tokOut struct {
			Token string `json:"token"`
		}
		if _, err := admin.Do(ctx, "POST", "/v1/person/mallory/credential/reset_token", map[string]any{}, &tokOut); err != nil {
			return err
		}
		anon := c.Client(nd, "")
		var open struct {
			ID string `json:"id"`
		}
		if _, err := anon.Do(ctx, "POST", "/v1/credential/update/reset", map[string]string{"token": tokOut.Token}, &open); err != nil {
			return err
		}
		defer anon.Do(ctx, "DELETE", "/v1/credential/update/"+open.ID, nil, nil)
		var begin struct {
			Options json.RawMessage `json:"options"`
		}
		if _, err := anon.Do(ctx, "POST", "/v1/credential/update/"+open.ID+"/webauthn/begin", map[string]string{"kind": "passkey", "label": "key"}, &begin); err != nil {
			return err
		}
		resp, err := auth.Register(begin.Options, true)
		if err != nil {
			return err
		}
		_, err = anon.Do(ctx, "POST", "/v1/credential/update/"+open.ID+"/webauthn/finish", map[string]json.RawMessage{"credential": resp}, nil)
		return err
	}
	if err := enrol(fidotest.New(nd.URL())); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("an unattested passkey under a CA list: %v", err)
	}
	if err := enrol(fidotest.New(nd.URL(), fidotest.WithAttestation(ca))); err != nil {
		t.Fatalf("a passkey attested by the listed CA: %v", err)
	}

	// credential-type-minimum: mallory has only a password, which is below
	// mfa, so her password login stops working.
	u.ok("", "group", "account-policy", "credential-type-minimum", "strict", "mfa")
	if _, err := c.Client(nd, "").LoginPassword(ctx, "mallory", malloryPW); !apiclient.IsStatus(err, 401) {
		t.Fatalf("password login under credential-type-minimum mfa: %v", err)
	}
	wantLines(t, "show", u.ok("", "group", "account-policy", "show", "strict"),
		"enabled:", "true", "auth-expiry:", "600 s", "credential-type-minimum:", "mfa", "password-minimum-length:", "12")
}

// The badlist through the CLI: the shipped default is there, an upload of
// several files keeps only what zxcvbn would let through, appends it, and a
// badlisted password is then refused.
func TestPasswordBadlistUploadAndEffect(t *testing.T) {
	_, _, u, adminPW := oneNodeCLI(t, "admin")

	// A read-only session is refused before any filtering starts.
	u.ok(adminPW+"\n", "login", "--name", "admin")
	dir := t.TempDir()
	f1, f2 := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	// Strong-looking breached passwords zxcvbn would accept, plus lines it
	// rejects anyway (dropped before upload) and a duplicate across files.
	writeFile(t, f1, "# a comment\nTangerine-Quokka-Ballast-93\npassword123\nshort\nVelvet.Harbor.Sprocket.58\n")
	writeFile(t, f2, "velvet.harbor.sprocket.58\nqwertyuiop\nMarzipan^Glacier^Stanza^17\n")
	u.fails("gatehouse reauth", "system", "pw-badlist", "upload", f1, f2)

	u.ok(adminPW+"\n", "reauth")
	r := u.run("", "system", "pw-badlist", "upload", f1, f2)
	if r.code != 0 {
		t.Fatalf("upload: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	wantLines(t, "upload summary", r.out, "read 8 lines from 2 files", "added 3 new passwords")
	wantLines(t, "upload progress", r.err, "filtering", "uploading")

	r = u.run("", "system", "pw-badlist", "show")
	wantLines(t, "show", r.out, "tangerine-quokka-ballast-93\n", "velvet.harbor.sprocket.58\n", "marzipan^glacier^stanza^17\n")
	if strings.Contains(r.out, "password123") {
		t.Fatal("a line zxcvbn rejects anyway was stored")
	}
	var n int
	if _, err := fmt.Sscanf(strings.TrimSpace(r.err[strings.LastIndex(strings.TrimSpace(r.err), "\n")+1:]), "%d passwords", &n); err != nil || n < 30000 {
		t.Fatalf("badlist size %d (%v): the shipped default list is missing\n%s", n, err, r.err)
	}
	// Uploading again adds nothing: the list is append-only and deduplicated.
	wantLines(t, "second upload", u.ok("", "system", "pw-badlist", "upload", f1), "added 0 new passwords")

	// The effect: a badlisted password is refused (case does not matter);
	// a denied name is refused too.
	u.ok("", "person", "create", "bea", "Bea Listed")
	r = u.run("TANGERINE-QUOKKA-BALLAST-93\n", "person", "set-password", "bea")
	if r.code != 1 || !strings.Contains(r.err, "breached passwords") {
		t.Fatalf("setting a badlisted password: exit %d %s", r.code, r.err)
	}
	u.fails("denied names", "person", "create", "root", "Root")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// gatehouse session list and destroy: records written after logins are
// listed, and a destroyed session's token is refused.
func TestSessionsAreListedAndDestroyedWithTheCLI(t *testing.T) {
	c, nd, u, idmPW := oneNodeCLI(t, "idm_admin")
	u.ok(idmPW+"\n", "login", "--name", "idm_admin", "--privileged")
	u.ok("", "person", "create", "sam", "Sam Sessions")
	samPW := "juniper-cobalt-harmonica-62"
	u.ok(samPW+"\n", "person", "set-password", "sam")
	ctx := context.Background()
	phone, laptop := c.Client(nd, ""), c.Client(nd, "")
	for _, cl := range []*apiclient.Client{phone, laptop} {
		if _, err := cl.LoginPassword(ctx, "sam", samPW); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := phone.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Records land after the logins (rule 4): wait for both.
	var out string
	Eventually(t, 10*time.Second, "both sessions listed", func() bool {
		out = u.ok("", "session", "list", "sam")
		return strings.Count(out, "password") == 2
	})
	wantLines(t, "session list", out, "ID", "MECHANISM", cur.ID)
	wantLines(t, "destroy", u.ok("", "session", "destroy", cur.ID), "session "+cur.ID+" revoked")
	if _, err := phone.Self(ctx); !apiclient.IsStatus(err, 401) {
		t.Fatalf("the destroyed session still works: %v", err)
	}
	if _, err := laptop.Self(ctx); err != nil {
		t.Fatalf("the other session stopped working: %v", err)
	}
	if out := u.ok("", "session", "list", "sam"); strings.Contains(out, cur.ID) || strings.Count(out, "password") != 1 {
		t.Fatalf("after destroy:\n%s", out)
	}

	// Kerberos principals and disabling, through the same CLI.
	wantLines(t, "add-principal", u.ok("", "person", "kerberos", "add-principal", "sam", "sam@EXAMPLE.COM"), "krb_principals:", "sam@EXAMPLE.COM")
	u.ok("", "person", "create", "tess", "Tess")
	u.fails("belongs to sam", "person", "kerberos", "add-principal", "tess", "sam@EXAMPLE.COM")
	if out := u.ok("", "person", "kerberos", "remove-principal", "sam", "sam@EXAMPLE.COM"); strings.Contains(out, "sam@EXAMPLE.COM") {
		t.Fatalf("remove-principal:\n%s", out)
	}
	wantLines(t, "disable", u.ok("", "person", "update", "sam", "--disabled", "true"), "disabled:", "true")
	if _, err := c.Client(nd, "").LoginPassword(ctx, "sam", samPW); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("login of a disabled account: %v", err)
	}
	u.ok("", "person", "update", "sam", "--disabled", "false")
	if _, err := c.Client(nd, "").LoginPassword(ctx, "sam", samPW); err != nil {
		t.Fatalf("login after enabling again: %v", err)
	}
}
