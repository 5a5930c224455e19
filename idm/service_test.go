package idm

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/fsm/fsmtest"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

func newService(t *testing.T) (*Service, *fsmtest.Proposer) {
	t.Helper()
	f, err := fsm.Open(filepath.Join(t.TempDir(), "state.db"), fsm.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	p := &fsmtest.Proposer{FSM: f}
	s := &Service{State: f, Prop: p, Hasher: password.NewHasher(2, 0), Log: slog.New(slog.DiscardHandler), Now: time.Now}
	sealer, _ := seal.New(bytes.Repeat([]byte{3}, 32))
	if err := s.InitSystem(context.Background(), "example.com", sealer); err != nil {
		t.Fatal(err)
	}
	return s, p
}

func str(s string) *string { return &s }

func TestAnUpdateThatLosesARaceIsRecomputedFromTheNewVersion(t *testing.T) {
	s, p := newService(t)
	ctx := context.Background()
	if _, _, err := s.Create(ctx, System, entry.Person, Input{Name: str("alice")}); err != nil {
		t.Fatal(err)
	}
	// Just before our update is proposed, another writer changes alice.
	raced := false
	p.Hook = func(cmd fsm.Command) {
		if cmd.Type != fsm.TypeEntryUpdate || raced {
			return
		}
		raced = true
		cur, _ := s.State.Entry("alice")
		other := cur.Clone()
		other.Mail = []string{"alice@example.com"}
		c, _ := fsm.NewCommand(fsm.TypeEntryUpdate, 1, "racer", 1, fsm.EntryUpdate{Entry: other, ExpectedVersion: cur.Version})
		p.Hook = nil
		if res, _ := p.Apply(ctx, c); res.Err != nil {
			t.Errorf("racing write: %v", res.Err)
		}
	}
	e, _, err := s.Update(ctx, System, entry.Person, "alice", Input{DisplayName: str("Alice")})
	if err != nil {
		t.Fatal(err)
	}
	if e.DisplayName != "Alice" || len(e.Mail) != 1 {
		t.Fatalf("after the race alice = %+v: one of the two writes was lost", e)
	}
}

func TestWhoMayWrite(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	idmAdmin := Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}
	admin := Actor{UUID: entry.UUIDAdmin, Name: "admin"}
	bob, _, err := s.Create(ctx, idmAdmin, entry.Person, Input{Name: str("bob")})
	if err != nil {
		t.Fatalf("idm_admin creates a person: %v", err)
	}
	plain := Actor{UUID: bob.UUID, Name: "bob"}
	forbidden := func(what string, err error) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Status != 403 {
			t.Errorf("%s: want 403, got %v", what, err)
		}
	}
	_, _, err = s.Create(ctx, plain, entry.Group, Input{Name: str("mine")})
	forbidden("a plain person creates a group", err)
	_, err = s.ChangeDeniedNames(ctx, idmAdmin, []string{"evil"}, true)
	forbidden("idm_admin changes denied names", err)
	_, err = s.Delete(ctx, admin, entry.ServiceAccount, "idm_admin")
	forbidden("deleting a built-in", err)
	_, err = s.SetPassword(ctx, idmAdmin, "admin", "a long enough password")
	forbidden("idm_admin sets admin's password", err)
	if _, err := s.ChangeDeniedNames(ctx, admin, []string{"evil"}, true); err != nil {
		t.Fatalf("admin appends a denied name: %v", err)
	}
	_, _, err = s.Create(ctx, idmAdmin, entry.Person, Input{Name: str("evil")})
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 {
		t.Fatalf("creating a denied name: want 400, got %v", err)
	}
}

func TestRecoverAccountSetsAPasswordThatVerifies(t *testing.T) {
	s, _ := newService(t)
	pw, err := s.RecoverAccount(context.Background(), "idm_admin")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := s.State.Entry("idm_admin")
	if ok, err := s.Hasher.Verify(context.Background(), e.PasswordHash, pw); !ok || err != nil {
		t.Fatalf("recovered password does not verify: %v", err)
	}
	if _, err := s.RecoverAccount(context.Background(), "alice"); err == nil {
		t.Fatal("recover-account accepted an ordinary account")
	}
}
