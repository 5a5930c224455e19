// Package idmtest stands up an initialised identity service for tests: a
// real state machine in a temporary folder, written through the real apply
// path (fsm/fsmtest), a cluster encryption key, a token signer and a small
// argon2id hasher.
package idmtest

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/fsm/fsmtest"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// Issuer of the test tokens; Domain of the test cluster.
const (
	Issuer = "https://gatehouse.test"
	Domain = "example.com"
)

// World is one initialised single-node identity service.
type World struct {
	FSM    *fsm.FSM
	Sealer *seal.Sealer
	Hasher *password.Hasher
	// Prop applies proposals in process; set Prop.Hook to watch them.
	Prop   *fsmtest.Proposer
	Svc    *idm.Service
	Signer *token.Signer
}

// New initialises a world whose service reads the clock now (time.Now
// when nil). Everything is closed when the test ends.
func New(t testing.TB, now func() time.Time) *World {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	f, err := fsm.Open(filepath.Join(t.TempDir(), "state.db"), fsm.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	sealer, err := seal.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	w := &World{FSM: f, Sealer: sealer, Hasher: password.NewHasher(2, 0), Prop: &fsmtest.Proposer{FSM: f}}
	w.Svc = &idm.Service{State: f, Prop: w.Prop, Hasher: w.Hasher, Log: slog.New(slog.DiscardHandler), Now: now}
	if err := w.Svc.InitSystem(context.Background(), Domain, sealer); err != nil {
		t.Fatal(err)
	}
	w.Signer = token.NewSigner(f, sealer, Issuer)
	return w
}
