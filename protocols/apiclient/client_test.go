package apiclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient/apiclienttest"
)

const adminPW = "correct horse battery staple"

// loggedIn returns a fake server and a client logged in as admin.
func loggedIn(t *testing.T) (*apiclienttest.Server, *apiclient.Client) {
	t.Helper()
	srv := apiclienttest.New(t, adminPW)
	c, err := apiclient.New(srv.URL, srv.CAFile, "")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := c.LoginPassword(context.Background(), "admin", adminPW); err != nil {
		t.Fatalf("LoginPassword: %v", err)
	}
	return srv, c
}

func wantAPIError(t *testing.T, err error, status int, code, msgPart string) {
	t.Helper()
	var e *apiclient.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *apiclient.Error %d, got %v", status, err)
	}
	if e.Status != status || e.Code != code || !strings.Contains(e.Message, msgPart) {
		t.Fatalf("want %d %s %q, got %d %s %q", status, code, msgPart, e.Status, e.Code, e.Message)
	}
}

func TestNewRefusesPlainHTTPAndBadCA(t *testing.T) {
	if _, err := apiclient.New("http://127.0.0.1:1", "", ""); err == nil {
		t.Fatal("plain http URL accepted")
	}
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := apiclient.New("https://127.0.0.1:1", bad, ""); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad CA file: got %v", err)
	}
}

func TestUntrustedServerIsRefused(t *testing.T) {
	srv := apiclienttest.New(t, adminPW)
	c, err := apiclient.New(srv.URL, "", "") // system roots do not trust the test CA
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.LoginPassword(context.Background(), "admin", adminPW)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a certificate error, got %v", err)
	}
}

func TestPasswordLoginSelfAndLogout(t *testing.T) {
	ctx := context.Background()
	_, c := loggedIn(t)
	if c.Token() == "" {
		t.Fatal("login did not keep the token")
	}
	self, err := c.Self(ctx)
	if err != nil || self.Name != "admin" || !self.HasPassword {
		t.Fatalf("Self = %+v, %v", self, err)
	}
	tok := c.Token()
	if err := c.Logout(ctx); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	c.SetToken(tok) // the old token must now be refused
	_, err = c.Self(ctx)
	wantAPIError(t, err, 401, "unauthorized", "no valid session token")
}

func TestWrongPasswordIsADenialWithTheServersReason(t *testing.T) {
	srv := apiclienttest.New(t, adminPW)
	c, err := apiclient.New(srv.URL, srv.CAFile, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.LoginPassword(context.Background(), "admin", "wrong")
	wantAPIError(t, err, 401, "unauthorized", "invalid name or password")
	if got := err.Error(); got != "invalid name or password (HTTP 401)" {
		t.Fatalf("Error() = %q", got)
	}
	if c.Token() != "" {
		t.Fatal("a denied login left a token behind")
	}
}

func TestAuthStepsCarryTheSessionHeader(t *testing.T) {
	srv := apiclienttest.New(t, adminPW)
	c, _ := apiclient.New(srv.URL, srv.CAFile, "")
	ctx := context.Background()
	r, err := c.Auth(ctx, "", apiclient.InitStep("admin"))
	if err != nil || r.SessionID == "" || !slices.Equal(r.State.Choose, []string{"password"}) {
		t.Fatalf("init = %+v, %v", r, err)
	}
	// A step without the session id is refused by the server.
	_, err = c.Auth(ctx, "", apiclient.AuthStep{Begin: "password"})
	wantAPIError(t, err, 401, "unauthorized", "no such login session")
	r, err = c.Auth(ctx, r.SessionID, apiclient.AuthStep{Begin: "password"})
	if err != nil || len(r.State.Continue) != 1 || r.State.Continue[0].Kind != "password" {
		t.Fatalf("begin = %+v, %v", r, err)
	}
	r, err = c.Auth(ctx, r.SessionID, apiclient.AuthStep{Cred: &apiclient.AuthCred{Password: adminPW}})
	if err != nil || r.State.Success == nil || *r.State.Success == "" {
		t.Fatalf("cred = %+v, %v", r, err)
	}
}

func TestErrorsCarryStatusCodeAndReason(t *testing.T) {
	ctx := context.Background()
	_, c := loggedIn(t)
	_, err := c.GetPerson(ctx, "nobody")
	wantAPIError(t, err, 404, "not_found", `no person named "nobody"`)
	if !apiclient.IsStatus(err, http.StatusNotFound) {
		t.Fatal("IsStatus(404) false")
	}
	_, err = c.CreatePerson(ctx, "admin", "Again", nil)
	wantAPIError(t, err, 409, "conflict", "already taken")
	_, err = c.CreatePerson(ctx, "root", "Denied", nil)
	wantAPIError(t, err, 400, "invalid", "denied")
}

func TestNonJSONErrorBodyIsQuoted(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream went away", http.StatusBadGateway)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeCert(t, srv, ca)
	c, err := apiclient.New(srv.URL, ca, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), http.MethodGet, "/v1/self", nil, nil)
	wantAPIError(t, err, 502, "", "upstream went away")
}

func TestReadYourWritesSendsTheLastIndex(t *testing.T) {
	ctx := context.Background()
	srv, c := loggedIn(t)
	if _, err := c.CreatePerson(ctx, "alice", "Alice", []string{"alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	if c.LastIndex() != srv.Index() || c.LastIndex() == 0 {
		t.Fatalf("LastIndex %d, server index %d", c.LastIndex(), srv.Index())
	}
	if _, err := c.GetPerson(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	c.SetReadYourWrites(true)
	if _, err := c.GetPerson(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	seen := srv.MinIndexSeen()
	if got := seen[len(seen)-2:]; got[0] != "" || got[1] != "1" {
		t.Fatalf("min-index headers %q, want [\"\" \"1\"]", got)
	}
	// An index the node has not reached yields its 503 reason.
	c.ObserveIndex(99)
	c.ObserveIndex(5) // never moves back
	if c.LastIndex() != 99 {
		t.Fatalf("LastIndex = %d after observing 99 then 5", c.LastIndex())
	}
	_, err := c.GetPerson(ctx, "alice")
	wantAPIError(t, err, 503, "unavailable", "has not reached index 99")
}

func TestEntryHelpersRoundTrip(t *testing.T) {
	ctx := context.Background()
	_, c := loggedIn(t)
	p, err := c.CreatePerson(ctx, "alice", "Alice", []string{"a@x"})
	if err != nil || p.UUID == "" || p.Class != "person" || !slices.Equal(p.Mail, []string{"a@x"}) {
		t.Fatalf("CreatePerson = %+v, %v", p, err)
	}
	name, none := "alicia", []string{}
	p, err = c.UpdatePerson(ctx, p.UUID, apiclient.EntryPatch{Name: &name, Mail: &none})
	if err != nil || p.Name != "alicia" || len(p.Mail) != 0 || p.DisplayName != "Alice" {
		t.Fatalf("UpdatePerson = %+v, %v", p, err)
	}
	if err := c.SetPassword(ctx, "alicia", "a long enough password"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateServiceAccount(ctx, "backup", "Backup job"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateGroup(ctx, "devs", "developers", nil); err != nil {
		t.Fatal(err)
	}
	g, err := c.AddMembers(ctx, "devs", "alicia", "backup")
	if err != nil || !slices.Equal(g.Members, []string{"alicia", "backup"}) {
		t.Fatalf("AddMembers = %+v, %v", g, err)
	}
	if g, err = c.RemoveMembers(ctx, "devs", "backup"); err != nil || !slices.Equal(g.Members, []string{"alicia"}) {
		t.Fatalf("RemoveMembers = %+v, %v", g, err)
	}
	ms, err := c.ListMembers(ctx, "devs")
	if err != nil || len(ms) != 1 || ms[0].Name != "alicia" {
		t.Fatalf("ListMembers = %+v, %v", ms, err)
	}
	ps, err := c.ListPersons(ctx)
	if err != nil || len(ps) != 2 {
		t.Fatalf("ListPersons = %+v, %v", ps, err)
	}
	if err := c.DeletePerson(ctx, "alicia"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetPerson(ctx, "alicia"); !apiclient.IsStatus(err, 404) {
		t.Fatalf("deleted person still readable: %v", err)
	}
	names, err := c.AppendDeniedNames(ctx, "admin2", "guest")
	if err != nil || !slices.Equal(names, []string{"root", "admin2", "guest"}) {
		t.Fatalf("AppendDeniedNames = %v, %v", names, err)
	}
	if names, err = c.RemoveDeniedNames(ctx, "admin2"); err != nil || !slices.Equal(names, []string{"root", "guest"}) {
		t.Fatalf("RemoveDeniedNames = %v, %v", names, err)
	}
	if names, err = c.DeniedNames(ctx); err != nil || len(names) != 2 {
		t.Fatalf("DeniedNames = %v, %v", names, err)
	}
}
