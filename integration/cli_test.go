package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliUser runs the built binary as an operator would, with the client
// settings in the environment.
type cliUser struct {
	t   *testing.T
	env []string
}

type cliResult struct {
	out, err string
	code     int
}

func (u *cliUser) run(stdin string, args ...string) cliResult {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), u.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, strings.NewReader(stdin)
	err := cmd.Run()
	r := cliResult{out: out.String(), err: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		u.t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs a command that must succeed and returns its stdout.
func (u *cliUser) ok(stdin string, args ...string) string {
	u.t.Helper()
	r := u.run(stdin, args...)
	if r.code != 0 {
		u.t.Fatalf("gatehouse %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// fails runs a command that must fail with exit 1 and the given message.
func (u *cliUser) fails(msg string, args ...string) {
	u.t.Helper()
	r := u.run("", args...)
	if r.code != 1 || !strings.Contains(r.err, msg) {
		u.t.Errorf("gatehouse %s: want exit 1 and %q, got exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), msg, r.code, r.out, r.err)
	}
}

func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

func TestAnOperatorManagesAccountsWithTheCLI(t *testing.T) {
	c := NewCluster(t, 3)
	c.StartAll()
	leader := c.WaitHealthy()
	var nd *Node
	for _, n := range c.Nodes {
		if n != leader {
			nd = n
		}
	}
	idmPW := c.Recover(nd, "idm_admin")
	adminPW := c.Recover(nd, "admin")
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	u := &cliUser{t: t, env: []string{"GATEHOUSE_URL=" + nd.URL(), "GATEHOUSE_CA=" + c.CA, "GATEHOUSE_TOKEN_FILE=" + tokens}}

	u.fails("not logged in to "+nd.URL(), "person", "list")
	u.fails("no password given on stdin", "login", "--name", "idm_admin")
	r := u.run("not-the-password\n", "login", "--name", "idm_admin")
	if r.code != 1 || !strings.Contains(r.err, "invalid name or credentials") {
		t.Errorf("login with a wrong password: exit %d, %s", r.code, r.err)
	}
	out := u.ok(idmPW+"\n", "login", "--name", "idm_admin", "--privileged")
	wantLines(t, "login", out, "logged in to "+nd.URL()+" as idm_admin")
	if fi, err := os.Stat(tokens); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	wantLines(t, "self", u.ok("", "self"), "name:", "idm_admin")

	// Persons.
	out = u.ok("", "person", "create", "alice", "Alice Liddell", "--mail", "alice@example.com")
	wantLines(t, "person create", out, "name:", "alice", "spn:", "alice@example.com", "displayname:", "Alice Liddell", "has_password:", "false")
	out = u.ok("", "person", "get", "alice", "--json")
	var alice struct {
		UUID string   `json:"uuid"`
		Name string   `json:"name"`
		Mail []string `json:"mail"`
	}
	if err := json.Unmarshal([]byte(out), &alice); err != nil || alice.Name != "alice" || len(alice.Mail) != 1 {
		t.Fatalf("person get --json: %v\n%s", err, out)
	}
	wantLines(t, "person get by uuid", u.ok("", "person", "get", alice.UUID), "alice@example.com")
	u.ok("", "person", "create", "bob", "Bob")
	out = u.ok("", "person", "list")
	wantLines(t, "person list", out, "NAME", "CLASS", "alice", "Alice Liddell", alice.UUID, "bob")
	out = u.ok("", "person", "update", "alice", "--displayname", "Alice L.", "--description", "curious")
	wantLines(t, "person update", out, "Alice L.", "curious")
	u.fails("", "person", "update", "alice") // no flag: refused
	out = u.ok("a-Long-passphrase-for-alice\n", "person", "set-password", "alice")
	wantLines(t, "set-password", out, "password set for alice")
	wantLines(t, "has_password after set-password", u.ok("", "person", "get", "alice"), "has_password:", "true")

	// One failing command's message and exit code, as docs/cli.md shows it.
	u.fails(`gatehouse: no person named "carl" (HTTP 404)`, "person", "get", "carl")
	u.fails(`(HTTP 409)`, "person", "create", "bob", "Bob again")
	u.fails(`(HTTP 400)`, "person", "create", "Bad", "Bad")

	// Groups.
	out = u.ok("", "group", "create", "devs", "--description", "developers", "--member", "alice")
	wantLines(t, "group create", out, "devs", "developers", "members:", "alice")
	out = u.ok("", "group", "add-members", "devs", "bob")
	if !strings.Contains(out, "alice, bob") && !strings.Contains(out, "bob, alice") {
		t.Errorf("group add-members: members are not alice and bob:\n%s", out)
	}
	out = u.ok("", "group", "list-members", "devs")
	wantLines(t, "group list-members", out, "NAME", "alice", "bob")
	wantLines(t, "memberof", u.ok("", "person", "get", "bob"), "memberof:", "devs")
	out = u.ok("", "group", "remove-members", "devs", "alice")
	if strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("group remove-members: %s", out)
	}
	wantLines(t, "group list", u.ok("", "group", "list"), "devs", "idm_admins", "system_admins")
	wantLines(t, "group delete", u.ok("", "group", "delete", "devs"), "deleted devs")
	u.fails("(HTTP 404)", "group", "get", "devs")

	// Service accounts.
	out = u.ok("", "service-account", "create", "backup", "Backup Robot")
	wantLines(t, "service-account create", out, "backup", "service_account", "Backup Robot")
	wantLines(t, "service-account get", u.ok("", "service-account", "get", "backup"), "Backup Robot")
	wantLines(t, "service-account list", u.ok("", "service-account", "list"), "backup", "admin", "idm_admin")
	wantLines(t, "service-account delete", u.ok("", "service-account", "delete", "backup"), "deleted backup")

	// Denied names need admin; idm_admin is told why not.
	u.fails("(HTTP 403)", "system", "denied-names", "append", "forbidden1")
	u.ok(adminPW+"\n", "login", "--name", "admin", "--privileged")
	out = u.ok("", "system", "denied-names", "append", "forbidden1", "forbidden2")
	wantLines(t, "denied-names append", out, "forbidden1\n", "forbidden2\n", "root\n")
	out = u.ok("", "system", "denied-names", "remove", "forbidden2")
	if strings.Contains(out, "forbidden2") {
		t.Errorf("denied-names remove: %s", out)
	}
	wantLines(t, "denied-names show", u.ok("", "system", "denied-names", "show"), "forbidden1\n")
	u.fails("denied names", "person", "create", "forbidden1", "F")

	// Person delete as admin.
	wantLines(t, "person delete", u.ok("", "person", "delete", "bob"), "deleted bob")
	u.fails(`no person named "bob"`, "person", "get", "bob")

	// Cluster status, a table and JSON.
	out = u.ok("", "cluster", "status", "--config", nd.Config)
	wantLines(t, "cluster status", out, "node", nd.ID, "leader", leader.ID, "applied")
	for _, n := range c.Nodes {
		wantLines(t, "cluster status members", out, n.ID)
	}
	out = u.ok("", "cluster", "status", "--json", "--config", nd.Config)
	if cid := clusterID(t, out); cid == "" {
		t.Errorf("cluster status --json has no cluster id:\n%s", out)
	}

	// Logout ends the session here; the next command needs a login.
	wantLines(t, "logout", u.ok("", "logout"), "logged out of "+nd.URL())
	u.fails("not logged in", "person", "list")
	b, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), nd.URL()) {
		t.Errorf("the token file still holds a token for %s after logout: %s", nd.URL(), b)
	}
}
