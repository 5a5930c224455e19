package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient/apiclienttest"
)

// cliRun runs the client commands in-process with stdin, returning stdout
// and the error main would print.
func cliRun(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := &cli.App{Name: "gatehouse", Commands: clientCommands(), Writer: &out, ErrWriter: &errOut, Reader: strings.NewReader(stdin)}
	err := app.RunContext(context.Background(), append([]string{"gatehouse"}, args...))
	return out.String(), err
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := cliRun(t, stdin, args...)
	if err != nil {
		t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func TestClientCommandsAgainstTheAPI(t *testing.T) {
	srv := apiclienttest.New(t, "admin-password")
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("GATEHOUSE_TOKEN_FILE", tokens)
	t.Setenv("GATEHOUSE_URL", srv.URL)
	t.Setenv("GATEHOUSE_CA", srv.CAFile)

	// Before login every command says how to log in.
	_, err := cliRun(t, "", "person", "list")
	if err == nil || err.Error() != "not logged in to "+srv.URL+": run gatehouse login" {
		t.Fatalf("before login: %v", err)
	}
	// A wrong password prints the server's reason and stores nothing.
	_, err = cliRun(t, "nope\n", "login", "--name", "admin")
	if err == nil || err.Error() != "invalid name or password (HTTP 401)" {
		t.Fatalf("wrong password: %v", err)
	}
	mustRun(t, "admin-password\n", "login", "--name", "admin")
	if tok, err := (apiclient.TokenStore{Path: tokens}).Get(srv.URL); err != nil || tok == "" {
		t.Fatalf("token not stored: %q, %v", tok, err)
	}

	// Flags may follow the arguments, as docs/cli.md writes them.
	out := mustRun(t, "", "person", "create", "alice", "Alice Liddell", "--mail", "alice@example.com")
	if !strings.Contains(out, "displayname:") || !strings.Contains(out, "Alice Liddell") || !strings.Contains(out, "alice@example.com") {
		t.Fatalf("person create printed:\n%s", out)
	}
	var e apiclient.Entry
	if err := json.Unmarshal([]byte(mustRun(t, "", "person", "get", "--json", "alice")), &e); err != nil || e.Name != "alice" {
		t.Fatalf("person get --json: %+v, %v", e, err)
	}
	out = mustRun(t, "", "person", "update", "alice", "--displayname", "Alice L.", "--mail", "")
	if !strings.Contains(out, "Alice L.") || strings.Contains(out, "mail:") {
		t.Fatalf("person update printed:\n%s", out)
	}
	if _, err := cliRun(t, "", "person", "update", "alice"); err == nil || !strings.Contains(err.Error(), "nothing to change") {
		t.Fatalf("empty update: %v", err)
	}
	mustRun(t, "a long new password\n", "person", "set-password", "alice")
	if out := mustRun(t, "", "person", "list"); !strings.Contains(out, "NAME") || !strings.Contains(out, "alice") {
		t.Fatalf("person list printed:\n%s", out)
	}
	_, err = cliRun(t, "", "person", "get", "nobody")
	if err == nil || err.Error() != `no person named "nobody" (HTTP 404)` {
		t.Fatalf("missing person: %v", err)
	}
	if _, err := cliRun(t, "", "person", "get"); err == nil || !strings.Contains(err.Error(), "usage: gatehouse person get ID") {
		t.Fatalf("missing argument: %v", err)
	}

	mustRun(t, "", "service-account", "create", "backup", "Backup job")
	mustRun(t, "", "group", "create", "devs", "--description", "developers")
	out = mustRun(t, "", "group", "add-members", "devs", "alice", "backup")
	if !strings.Contains(out, "alice, backup") {
		t.Fatalf("add-members printed:\n%s", out)
	}
	mustRun(t, "", "group", "remove-members", "devs", "backup")
	out = mustRun(t, "", "group", "list-members", "devs")
	if !strings.Contains(out, "alice") || strings.Contains(out, "backup") {
		t.Fatalf("list-members printed:\n%s", out)
	}

	mustRun(t, "", "system", "denied-names", "append", "guest", "nobody")
	mustRun(t, "", "system", "denied-names", "remove", "nobody")
	if out := mustRun(t, "", "system", "denied-names", "show"); out != "root\nguest\n" {
		t.Fatalf("denied-names show printed %q", out)
	}
	mustRun(t, "", "group", "delete", "devs")
	mustRun(t, "", "person", "delete", "alice")

	mustRun(t, "", "logout")
	if tok, _ := (apiclient.TokenStore{Path: tokens}).Get(srv.URL); tok != "" {
		t.Fatal("logout kept the token")
	}
	if _, err := cliRun(t, "", "self"); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Fatalf("after logout: %v", err)
	}
	if fi, err := os.Stat(tokens); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode: %v, %v", fi, err)
	}
}
