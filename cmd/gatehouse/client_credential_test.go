package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/idmtest"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"
	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/credupdate"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/protocols/api"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// credServer is the real API of one node over TLS, with the
// credential-update manager, for the credential commands.
type credServer struct {
	url    string
	svc    *idm.Service
	signer *token.Signer
	tokens apiclient.TokenStore
}

func newCredServer(t *testing.T) *credServer {
	t.Helper()
	w := idmtest.New(t, nil)
	svc, signer, sealer, f := w.Svc, w.Signer, w.Sealer, w.FSM
	log := slog.New(slog.DiscardHandler)
	srv := &api.Server{Svc: svc, Signer: signer, State: f, Cluster: credOneNode{}, NodeID: "n1", Log: log, Now: time.Now}
	srv.CredUpdateDeps = api.CredUpdateDeps{CredUpdate: credupdate.New(svc, sealer, nil, "n1")}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	t.Setenv("GATEHOUSE_TOKEN_FILE", tokens)
	t.Setenv("GATEHOUSE_URL", ts.URL)
	t.Setenv("GATEHOUSE_CA", caFile)
	return &credServer{url: ts.URL, svc: svc, signer: signer, tokens: apiclient.TokenStore{Path: tokens}}
}

type credOneNode struct{}

func (credOneNode) HasState() bool                                  { return true }
func (credOneNode) Leader() (string, string)                        { return "n1", "" }
func (credOneNode) ConsistentIndex(context.Context) (uint64, error) { return 0, nil }

// loginAs stores a read-write session token of the account, as
// gatehouse login --privileged would.
func (s *credServer) loginAs(t *testing.T, name string) {
	t.Helper()
	e, ok := s.svc.Lookup(name)
	if !ok {
		t.Fatalf("no %s", name)
	}
	now := time.Now()
	tok, err := s.signer.Sign(token.Claims{Claims: jwt.Claims{Subject: e.UUID, IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(time.Hour))}, SessionID: "cli." + name, Name: name, RWUntil: now.Add(10 * time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.tokens.Set(s.url, tok); err != nil {
		t.Fatal(err)
	}
}

const cliStrongPW = "violet pencil orbit marmalade 42"

func TestCredentialCommandsDriveAResetAndASelfUpdate(t *testing.T) {
	s := newCredServer(t)
	ctx := context.Background()
	name := "alice"
	if _, _, err := s.svc.Create(ctx, idm.System, entry.Person, idm.Input{Name: &name}); err != nil {
		t.Fatal(err)
	}

	// An admin issues a reset link; alice uses it from a script.
	s.loginAs(t, "idm_admin")
	out := mustRun(t, "", "person", "credential", "create-reset-token", "alice", "10m")
	m := regexp.MustCompile(`token:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "/ui/reset#token="+m[1]) {
		t.Fatalf("create-reset-token printed:\n%s", out)
	}
	script := "password\npassword123\npassword\n" + cliStrongPW + "\ncommit\n"
	out = mustRun(t, script, "person", "credential", "update", "alice", "--token", m[1])
	if !strings.Contains(out, "Refused: the password is too easy to guess") || !strings.Contains(out, "Committed") {
		t.Fatalf("update with a reset token printed:\n%s", out)
	}
	e, _ := s.svc.State.Entry("alice")
	if ok, _ := s.svc.Hasher.Verify(ctx, e.PasswordHash, cliStrongPW); !ok {
		t.Fatal("the password set through the CLI does not verify")
	}
	if _, err := cliRun(t, script, "person", "credential", "update", "alice", "--token", m[1]); err == nil {
		t.Fatal("a used reset token worked again")
	}
	// A script that ends before commit changes nothing.
	s.loginAs(t, "alice")
	if _, err := cliRun(t, "password\n", "person", "credential", "update", "alice"); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("input ending early: %v", err)
	}
	if _, err := cliRun(t, "cancel\n", "person", "credential", "update", "bob"); err == nil || !strings.Contains(err.Error(), "only your own") {
		t.Fatalf("updating someone else: %v", err)
	}

	// alice adds a TOTP from the terminal: the test reads the secret as a
	// person reads the QR code, then answers with a wrong and a right code.
	inR, inW := io.Pipe()
	var outBuf syncBuffer
	app := &cli.App{Name: "gatehouse", Commands: clientCommands(), Writer: &outBuf, ErrWriter: io.Discard, Reader: inR}
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"gatehouse", "person", "credential", "update", "alice"})
		inR.Close()
	}()
	fmt.Fprint(inW, "totp\nphone\n")
	secretRE := regexp.MustCompile(`secret by hand: ([A-Z2-7]+)`)
	var secret string
	for deadline := time.Now().Add(5 * time.Second); secret == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := secretRE.FindStringSubmatch(outBuf.String()); m != nil {
			secret = m[1]
		}
	}
	if secret == "" {
		t.Fatalf("no TOTP secret printed:\n%s", outBuf.String())
	}
	code, err := ptotp.GenerateCodeCustom(secret, time.Now(), ptotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA256})
	if err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	fmt.Fprintf(inW, "%s\n%s\ncommit\n", wrong, code)
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("update: %v\n%s", err, outBuf.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("update did not finish:\n%s", outBuf.String())
	}
	printed := outBuf.String()
	for _, want := range []string{"▀", "Refused: the code does not match", `TOTP "phone" verified`, "passwordmfa", "Committed"} {
		if !strings.Contains(printed, want) {
			t.Errorf("update printed no %q:\n%s", want, printed)
		}
	}
	if e, _ := s.svc.State.Entry("alice"); len(e.TOTP) != 1 {
		t.Fatalf("stored TOTP: %+v", e.TOTP)
	}

	s.loginAs(t, "idm_admin")
	if out := mustRun(t, "", "person", "credential", "softlock-reset", "alice"); !strings.Contains(out, "soft lock reset for alice") {
		t.Errorf("softlock-reset printed %q", out)
	}
	sa := "backup"
	if _, _, err := s.svc.Create(ctx, idm.System, entry.ServiceAccount, idm.Input{Name: &sa}); err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(mustRun(t, "", "service-account", "credential", "generate", "backup"))
	e, _ = s.svc.State.Entry("backup")
	if ok, _ := s.svc.Hasher.Verify(ctx, e.PasswordHash, pw); !ok || !e.PasswordGenerated {
		t.Fatalf("generated password %q does not verify", pw)
	}
}
