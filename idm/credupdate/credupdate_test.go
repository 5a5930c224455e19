package credupdate

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/idmtest"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
	"github.com/gatehouse-idm/gatehouse/idm/totp"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

const (
	origin   = "https://localhost:8443"
	strongPW = "violet pencil orbit marmalade 42"
)

var admin = idm.Actor{UUID: entry.UUIDAdmin, Name: "admin"}

// fixture is one node's identity service over the real apply path, with
// alice (a person) logged in as session "s-alice".
type fixture struct {
	svc   *idm.Service
	m     *Manager
	alice Caller

	mu       sync.Mutex
	commands []string // types of the commands proposed, in order
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{}
	w := idmtest.New(t, nil)
	w.Prop.Hook = func(cmd fsm.Command) {
		fx.mu.Lock()
		fx.commands = append(fx.commands, cmd.Type)
		fx.mu.Unlock()
	}
	sealer, svc := w.Sealer, w.Svc
	ctx := context.Background()
	name, dn := "alice", "Alice Liddell"
	a, _, err := svc.Create(ctx, idm.System, entry.Person, idm.Input{Name: &name, DisplayName: &dn})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := fido.New("localhost", "Gatehouse", []string{origin})
	if err != nil {
		t.Fatal(err)
	}
	fx.svc = svc
	fx.m = New(svc, sealer, rp, "n1")
	fx.alice = Caller{SessionID: "s-alice", Account: a.UUID, ReadWrite: true}
	return fx
}

// proposed returns the command types proposed since the last call.
func (fx *fixture) proposed() []string {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	out := fx.commands
	fx.commands = nil
	return out
}

func (fx *fixture) open(t *testing.T) string {
	t.Helper()
	id, st, err := fx.m.Open(context.Background(), fx.alice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "n1.") || st.Name != "alice" || st.Password || st.CanCommit {
		t.Fatalf("open: %q %+v", id, st)
	}
	return id
}

func (fx *fixture) setPolicy(t *testing.T, change func(p *entry.Policy)) {
	t.Helper()
	if _, err := fx.svc.SetGroupPolicy(context.Background(), admin, entry.UUIDIDMAllPersons, func(p *entry.Policy) error {
		change(p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fx.proposed()
}

// enrolTOTP generates a TOTP and verifies it with its current code.
func (fx *fixture) enrolTOTP(t *testing.T, id, algo string, acceptSHA1 bool) (Status, error) {
	t.Helper()
	en, err := fx.m.GenerateTOTP(id, fx.alice, "phone "+algo, algo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(en.URI, "otpauth://totp/") || en.Secret == "" || len(en.PNG) == 0 {
		t.Fatalf("enrolment: %+v", en)
	}
	code, err := totp.Code(fx.m.Sealer, fx.alice.Account, en.Cred, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return fx.m.VerifyTOTP(id, fx.alice, code, acceptSHA1)
}

func TestAPasswordIsSetAndCommittedAsOneCommand(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	id := fx.open(t)
	st, err := fx.m.SetPassword(ctx, id, fx.alice, strongPW)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Password || !st.CanCommit || len(st.Mechanisms) != 1 || st.Mechanisms[0] != entry.MechPassword {
		t.Fatalf("status after set: %+v", st)
	}
	if e, _ := fx.svc.State.Entry("alice"); e.PasswordHash != "" {
		t.Fatal("the password landed before the commit")
	}
	fx.proposed()
	idx, err := fx.m.Commit(ctx, id, fx.alice)
	if err != nil || idx == 0 {
		t.Fatalf("commit: %d %v", idx, err)
	}
	if got := fx.proposed(); len(got) != 1 || got[0] != fsm.TypeCredentialCommit {
		t.Fatalf("commit proposed %v, want one credential.commit", got)
	}
	e, _ := fx.svc.State.Entry("alice")
	if ok, err := fx.svc.Hasher.Verify(ctx, e.PasswordHash, strongPW); !ok || err != nil {
		t.Fatalf("stored hash does not verify: %v", err)
	}
	if _, err := fx.m.Status(id, fx.alice); err == nil {
		t.Error("a committed session is still open")
	}
}

func TestAWeakPasswordIsRefusedWithFeedback(t *testing.T) {
	fx := newFixture(t)
	id := fx.open(t)
	for _, pw := range []string{"password123", "aliceliddell1", "short"} {
		_, err := fx.m.SetPassword(context.Background(), id, fx.alice, pw)
		var qe *QualityError
		if !errors.As(err, &qe) || qe.Reason == "" || qe.Feedback.Warning+strings.Join(qe.Feedback.Suggestions, "") == "" {
			t.Errorf("%q: want a quality error with feedback, got %v", pw, err)
		}
		if err := fx.m.CheckPassword(id, fx.alice, pw); !errors.As(err, &qe) {
			t.Errorf("check %q: %v", pw, err)
		}
	}
	if err := fx.m.CheckPassword(id, fx.alice, strongPW); err != nil {
		t.Errorf("check of a strong password: %v", err)
	}
	if st, _ := fx.m.Status(id, fx.alice); st.Password {
		t.Error("a refused password was kept")
	}
}

func TestTOTPIsKeptOnlyAfterACorrectCodeAndSHA1NeedsAcceptance(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	id := fx.open(t)
	en, err := fx.m.GenerateTOTP(id, fx.alice, "phone", "")
	if err != nil || en.Cred.Algorithm != "SHA256" {
		t.Fatalf("generate: %+v %v", en, err)
	}
	code, _ := totp.Code(fx.m.Sealer, fx.alice.Account, en.Cred, time.Now())
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if _, err := fx.m.VerifyTOTP(id, fx.alice, wrong, false); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a wrong code: %v", err)
	}
	if st, _ := fx.m.Status(id, fx.alice); len(st.TOTP) != 0 {
		t.Fatal("an unverified TOTP was kept")
	}
	st, err := fx.m.VerifyTOTP(id, fx.alice, code, false)
	if err != nil || len(st.TOTP) != 1 || st.TOTP[0].Algorithm != "SHA256" {
		t.Fatalf("verify: %+v %v", st, err)
	}
	// TOTP without a password is no credential: refused at commit.
	if st.CanCommit {
		t.Fatalf("TOTP alone can commit: %+v", st)
	}
	if _, err := fx.m.Commit(ctx, id, fx.alice); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("commit of TOTP alone: %v", err)
	}

	// SHA1: refused without acceptance, kept with it.
	if _, err := fx.enrolTOTP(t, id, "SHA1", false); err == nil || !strings.Contains(err.Error(), "SHA1") {
		t.Fatalf("SHA1 without acceptance: %v", err)
	}
	en2 := fx.m.sessions[id].totp
	code, _ = totp.Code(fx.m.Sealer, fx.alice.Account, en2.Cred, time.Now())
	if st, err = fx.m.VerifyTOTP(id, fx.alice, code, true); err != nil {
		t.Fatalf("SHA1 accepted: %v", err)
	}
	if len(st.TOTP) != 2 || st.TOTP[1].Algorithm != "SHA1" {
		t.Fatalf("after SHA1: %+v", st.TOTP)
	}
	if _, err := fx.m.SetPassword(ctx, id, fx.alice, strongPW); err != nil {
		t.Fatal(err)
	}
	st, _ = fx.m.Status(id, fx.alice)
	if !st.CanCommit || len(st.Mechanisms) != 1 || st.Mechanisms[0] != entry.MechPasswordMFA {
		t.Fatalf("password + TOTP: %+v", st)
	}
	// An encryption-key rotation finishes while the update is open: the
	// commit seals the pending secrets again under the new key.
	if err := fx.m.Sealer.Add(bytes.Repeat([]byte{42}, 32), true); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.m.Commit(ctx, id, fx.alice); err != nil {
		t.Fatal(err)
	}
	e, _ := fx.svc.State.Entry("alice")
	if len(e.TOTP) != 2 || bytes.Contains(e.TOTP[0].SealedSecret, []byte(en.Secret)) {
		t.Fatalf("stored TOTP: %+v", e.TOTP)
	}
	for _, c := range e.TOTP {
		if id, _ := seal.KeyOf(c.SealedSecret); id != fx.m.Sealer.Current() {
			t.Fatalf("TOTP %s stored under key %s, not the current key", c.ID, id)
		}
	}
}

func TestPasskeyAndSecurityKeyEnrol(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	id := fx.open(t)
	dev := fidotest.New(origin)

	opts, err := fx.m.BeginWebAuthn(id, fx.alice, fido.Passkey, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := dev.Register(opts, true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := fx.m.FinishWebAuthn(id, fx.alice, resp)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Passkeys) != 1 || st.Passkeys[0].Label != "laptop" || st.Passkeys[0].Attested || !st.CanCommit {
		t.Fatalf("after passkey: %+v", st)
	}
	// A replayed answer has no ceremony left to finish.
	if _, err := fx.m.FinishWebAuthn(id, fx.alice, resp); err == nil {
		t.Fatal("a replayed registration was accepted")
	}
	// A passkey needs user verification.
	opts, _ = fx.m.BeginWebAuthn(id, fx.alice, fido.Passkey, "no-uv")
	resp, _ = fidotest.New(origin).Register(opts, false)
	if _, err := fx.m.FinishWebAuthn(id, fx.alice, resp); err == nil || !strings.Contains(err.Error(), "verify the user") {
		t.Fatalf("passkey without UV: %v", err)
	}

	// A security key goes with a password.
	if _, err := fx.m.SetPassword(ctx, id, fx.alice, strongPW); err != nil {
		t.Fatal(err)
	}
	opts, err = fx.m.BeginWebAuthn(id, fx.alice, fido.SecurityKey, "yubikey")
	if err != nil {
		t.Fatal(err)
	}
	resp, err = fidotest.New(origin).Register(opts, false)
	if err != nil {
		t.Fatal(err)
	}
	if st, err = fx.m.FinishWebAuthn(id, fx.alice, resp); err != nil {
		t.Fatal(err)
	}
	want := []string{entry.MechPasskey, entry.MechPasswordSecurityKey}
	if len(st.SecurityKeys) != 1 || strings.Join(st.Mechanisms, ",") != strings.Join(want, ",") {
		t.Fatalf("after security key: %+v", st)
	}
	// Removing the password leaves a security key without one: not valid.
	if st, _ = fx.m.RemovePassword(id, fx.alice); st.CanCommit {
		t.Fatalf("a security key without a password can commit: %+v", st)
	}
	if st, err = fx.m.RemoveWebAuthn(id, fx.alice, st.SecurityKeys[0].ID); err != nil || !st.CanCommit {
		t.Fatalf("passkey only: %+v %v", st, err)
	}
	if _, err := fx.m.Commit(ctx, id, fx.alice); err != nil {
		t.Fatal(err)
	}
	e, _ := fx.svc.State.Entry("alice")
	if len(e.Passkeys) != 1 || e.PasswordHash != "" || len(e.SecurityKeys) != 0 {
		t.Fatalf("stored: %+v", e.Credentials)
	}
}

func TestAttestationIsEnforcedWhenThePolicyListsCAs(t *testing.T) {
	fx := newFixture(t)
	ca, err := fidotest.NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	fx.setPolicy(t, func(p *entry.Policy) {
		p.WebauthnAttestationCAList = &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{"test": ca.Entry()}}
	})
	id := fx.open(t)
	opts, err := fx.m.BeginWebAuthn(id, fx.alice, fido.Passkey, "unknown device")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(opts), `"direct"`) {
		t.Errorf("attestation not asked for: %s", opts)
	}
	resp, _ := fidotest.New(origin).Register(opts, true)
	if _, err := fx.m.FinishWebAuthn(id, fx.alice, resp); err == nil {
		t.Fatal("an unattested passkey was accepted under a CA list")
	}
	opts, _ = fx.m.BeginWebAuthn(id, fx.alice, fido.Passkey, "approved device")
	resp, err = fidotest.New(origin, fidotest.WithAttestation(ca)).Register(opts, true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := fx.m.FinishWebAuthn(id, fx.alice, resp)
	if err != nil {
		t.Fatalf("attested passkey: %v", err)
	}
	if len(st.Passkeys) != 1 || !st.Passkeys[0].Attested || st.Mechanisms[0] != entry.MechAttestedPasskey {
		t.Fatalf("status: %+v", st)
	}
}

func TestCommitIsRefusedBelowTheCredentialTypeMinimum(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.setPolicy(t, func(p *entry.Policy) { p.CredentialTypeMinimum = entry.CredMFA })
	id := fx.open(t)
	st, err := fx.m.SetPassword(ctx, id, fx.alice, strongPW)
	if err != nil {
		t.Fatal(err)
	}
	if st.CanCommit || len(st.Warnings) == 0 || !strings.Contains(st.Warnings[0], "requires at least mfa") {
		t.Fatalf("status below the minimum: %+v", st)
	}
	fx.proposed()
	if _, err := fx.m.Commit(ctx, id, fx.alice); err == nil || !strings.Contains(err.Error(), "add a TOTP or a security key") {
		t.Fatalf("commit below the minimum: %v", err)
	}
	if got := fx.proposed(); len(got) != 0 {
		t.Fatalf("a refused commit proposed %v", got)
	}
	if st, err = fx.enrolTOTP(t, id, "", false); err != nil || !st.CanCommit {
		t.Fatalf("with TOTP: %+v %v", st, err)
	}
	if _, err := fx.m.Commit(ctx, id, fx.alice); err != nil {
		t.Fatal(err)
	}
}

func TestAResetTokenWorksOnceAndNotTwice(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	idmAdmin := idm.Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}
	tok, _, err := fx.svc.CreateResetToken(ctx, idmAdmin, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	id, st, err := fx.m.OpenReset(ctx, tok)
	if err != nil || st.Name != "alice" {
		t.Fatalf("open with the token: %+v %v", st, err)
	}
	// A second session with the same token, opened before the first commits.
	id2, _, err := fx.m.OpenReset(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	// A reset session is bound to its id, not to a login: any caller with it works.
	if _, err := fx.m.SetPassword(ctx, id, Caller{}, strongPW); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.m.Commit(ctx, id, Caller{}); err != nil {
		t.Fatalf("commit with the token: %v", err)
	}
	if _, _, err := fx.m.OpenReset(ctx, tok); err == nil {
		t.Fatal("a used reset token opened a session")
	}
	if _, err := fx.m.SetPassword(ctx, id2, Caller{}, strongPW+"!"); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.m.Commit(ctx, id2, Caller{}); err == nil {
		t.Fatal("a second commit with the same token succeeded")
	}
	if _, _, err := fx.m.OpenReset(ctx, "not-a-token"); err == nil {
		t.Fatal("a made-up token opened a session")
	}
}

func TestASessionIsOnlyItsOwners(t *testing.T) {
	fx := newFixture(t)
	id := fx.open(t)
	for _, c := range []Caller{{}, {SessionID: "s-other", Account: fx.alice.Account}, {SessionID: fx.alice.SessionID, Account: entry.UUIDAdmin}} {
		if _, err := fx.m.Status(id, c); err == nil {
			t.Errorf("caller %+v reached alice's session", c)
		}
	}
	if err := fx.m.Cancel(id, fx.alice); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.m.Status(id, fx.alice); err == nil {
		t.Error("a cancelled session is still open")
	}
}

func TestSessionsExpireWhenIdleAndAreBounded(t *testing.T) {
	fx := newFixture(t)
	now := time.Now()
	fx.m.Now = func() time.Time { return now }
	fx.m.Max = 2
	id := fx.open(t)
	fx.open(t)
	if _, _, err := fx.m.Open(context.Background(), fx.alice); err == nil {
		t.Fatal("a third session beyond the bound was opened")
	}
	now = now.Add(IdleExpiry + time.Second)
	if _, err := fx.m.Status(id, fx.alice); err == nil {
		t.Fatal("an idle session survived its expiry")
	}
	fx.open(t) // the sweep made room
}

func TestAServiceAccountGetsAGeneratedPassword(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	name := "backup"
	if _, _, err := fx.svc.Create(ctx, idm.System, entry.ServiceAccount, idm.Input{Name: &name}); err != nil {
		t.Fatal(err)
	}
	idmAdmin := idm.Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}
	pw, idx, err := fx.m.GeneratePassword(ctx, idmAdmin, "backup")
	if err != nil || len(pw) != GeneratedPasswordLen || idx == 0 {
		t.Fatalf("generate: %q %d %v", pw, idx, err)
	}
	e, _ := fx.svc.State.Entry("backup")
	if !e.PasswordGenerated || strings.Join(e.Mechanisms(), ",") != entry.MechGeneratedPassword {
		t.Fatalf("stored: %+v", e.Credentials)
	}
	if ok, _ := fx.svc.Hasher.Verify(ctx, e.PasswordHash, pw); !ok {
		t.Fatal("the generated password does not verify")
	}
	if _, _, err := fx.m.GeneratePassword(ctx, idmAdmin, "alice"); err == nil {
		t.Fatal("a person got a generated password")
	}
	if _, _, err := fx.m.GeneratePassword(ctx, fx.aliceActor(), "backup"); err == nil {
		t.Fatal("alice generated a service account's password")
	}
}

func (fx *fixture) aliceActor() idm.Actor { return idm.Actor{UUID: fx.alice.Account, Name: "alice"} }

func TestOneAccountCannotFillTheTable(t *testing.T) {
	fx := newFixture(t)
	now := time.Now()
	fx.m.Now = func() time.Time { return now }
	first := fx.open(t)
	for i := 0; i < MaxPerAccount; i++ {
		now = now.Add(time.Second)
		fx.open(t)
	}
	if n := fx.m.Len(); n != MaxPerAccount {
		t.Fatalf("%d sessions for one account, want %d", n, MaxPerAccount)
	}
	if _, err := fx.m.Status(first, fx.alice); err == nil {
		t.Fatal("the least recently used session was kept")
	}
}

// The same login session after its privilege window: same id, read-only.
func (fx *fixture) aliceReadOnly() Caller {
	c := fx.alice
	c.ReadWrite = false
	return c
}

func TestEveryChangeNeedsTheLoginToBeReadWriteNow(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	ro := fx.aliceReadOnly()
	if _, _, err := fx.m.Open(ctx, ro); idm.AsError(err).Code != "reauth_required" {
		t.Fatalf("open with a read-only session: %v", err)
	}
	id := fx.open(t)
	if _, err := fx.m.SetPassword(ctx, id, fx.alice, strongPW); err != nil {
		t.Fatal(err)
	}
	fx.proposed()
	// The privilege window closes: reads still work, changes and the commit do not.
	if _, err := fx.m.Status(id, ro); err != nil {
		t.Fatalf("status with the read-only session: %v", err)
	}
	if err := fx.m.CheckPassword(id, ro, strongPW); err != nil {
		t.Fatalf("check with the read-only session: %v", err)
	}
	refused := map[string]error{}
	_, refused["password"] = fx.m.SetPassword(ctx, id, ro, strongPW+"!")
	_, refused["remove password"] = fx.m.RemovePassword(id, ro)
	_, refused["totp generate"] = fx.m.GenerateTOTP(id, ro, "phone", "SHA256")
	_, refused["totp verify"] = fx.m.VerifyTOTP(id, ro, "123456", false)
	_, refused["totp remove"] = fx.m.RemoveTOTP(id, ro, "x")
	_, refused["webauthn begin"] = fx.m.BeginWebAuthn(id, ro, fido.Passkey, "key")
	_, refused["webauthn finish"] = fx.m.FinishWebAuthn(id, ro, []byte(`{}`))
	_, refused["webauthn remove"] = fx.m.RemoveWebAuthn(id, ro, "x")
	_, refused["commit"] = fx.m.Commit(ctx, id, ro)
	for what, err := range refused {
		if idm.AsError(err).Code != "reauth_required" {
			t.Errorf("%s with a read-only session: %v, want reauth_required", what, err)
		}
	}
	if cmds := fx.proposed(); len(cmds) != 0 {
		t.Fatalf("a read-only session proposed %v", cmds)
	}
	// After reauthentication the same session commits.
	if _, err := fx.m.Commit(ctx, id, fx.alice); err != nil {
		t.Fatalf("commit after reauth: %v", err)
	}
}

func TestOnlyTheOwnerKeepsASessionAlive(t *testing.T) {
	fx := newFixture(t)
	now := time.Now()
	fx.m.Now = func() time.Time { return now }
	id := fx.open(t)
	stranger := Caller{SessionID: "s-mallory", Account: entry.UUIDAdmin}
	for i := 0; i < 3; i++ {
		now = now.Add(IdleExpiry / 2)
		if _, err := fx.m.Status(id, stranger); err == nil {
			t.Fatal("a stranger reached alice's session")
		}
		if _, err := fx.m.Status(id, Caller{}); err == nil {
			t.Fatal("a caller without a login reached alice's session")
		}
	}
	if _, err := fx.m.Status(id, fx.alice); err == nil {
		t.Fatal("a stranger's requests kept the session alive past its idle expiry")
	}
	// A refused write does not keep it alive either.
	id = fx.open(t)
	now = now.Add(IdleExpiry / 2)
	if _, err := fx.m.SetPassword(context.Background(), id, fx.aliceReadOnly(), strongPW); err == nil {
		t.Fatal("a read-only write was accepted")
	}
	now = now.Add(IdleExpiry/2 + time.Second)
	if _, err := fx.m.Status(id, fx.alice); err == nil {
		t.Fatal("a refused write kept the session alive past its idle expiry")
	}
}
