package auth

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/password"
)

func str(s string) *string { return &s }

func TestAnInFlightLoginExpiresAfterItsTTL(t *testing.T) {
	f, err := fsm.Open(filepath.Join(t.TempDir(), "state.db"), fsm.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	now := time.Unix(1_700_000_000, 0)
	e := &Engine{State: f, Hasher: password.NewHasher(1, 0), NodeID: "n7", Now: func() time.Time { return now }}
	ctx := context.Background()
	resp, err := e.Step(ctx, "", Request{Step: Step{Init: str("alice")}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if Owner(resp.SessionID) != "n7" {
		t.Fatalf("session id %q does not name its node", resp.SessionID)
	}
	if len(resp.State.Choose) == 0 {
		t.Fatalf("init offered nothing: %+v", resp.State)
	}
	now = now.Add(InflightTTL + time.Second)
	if _, err := e.Step(ctx, resp.SessionID, Request{Step: Step{Begin: str(MechPassword)}}, "test"); !errors.Is(err, ErrBadStep) {
		t.Fatalf("a step on an expired login: want ErrBadStep, got %v", err)
	}
	e.Sweep()
	if n := len(e.inflight); n != 0 {
		t.Fatalf("%d expired logins kept after Sweep", n)
	}
}

func TestAStepMustBeExactlyOneThing(t *testing.T) {
	e := &Engine{Now: time.Now}
	two := Request{Step: Step{Init: str("a"), Begin: str(MechPassword)}}
	for _, r := range []Request{{}, two} {
		if _, err := e.Step(context.Background(), "", r, "test"); !errors.Is(err, ErrBadStep) {
			t.Fatalf("step %+v: want ErrBadStep, got %v", r.Step, err)
		}
	}
}
