package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/idmtest"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/idm/totp"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

const (
	testOrigin = "https://localhost"
	goodPW     = "correct horse battery staple 7"
)

func str(s string) *string { return &s }

// clock is the injected time of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// world is one node's state with an engine over it, and accounts of every
// credential kind.
type world struct {
	t        testing.TB
	f        *fsm.FSM
	svc      *idm.Service
	sealer   *seal.Sealer
	hasher   *password.Hasher
	signer   *token.Signer
	rp       *fido.RP
	clock    *clock
	e        *Engine
	phc      string // one argon2id hash of goodPW, shared: hashing is slow
	sessions []fsm.Session
	keys     map[string]*fidotest.Authenticator // account name → its authenticator
	ca       *fidotest.CA
}

var admin = idm.Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}

func newWorld(t testing.TB) *world {
	t.Helper()
	clk := &clock{t: time.Now().Truncate(time.Second)}
	iw := idmtest.New(t, clk.now)
	w := &world{t: t, f: iw.FSM, sealer: iw.Sealer, hasher: iw.Hasher, clock: clk, svc: iw.Svc, signer: iw.Signer,
		keys: map[string]*fidotest.Authenticator{}}
	var err error
	if w.rp, err = fido.New("localhost", "Gatehouse", []string{testOrigin}); err != nil {
		t.Fatal(err)
	}
	if w.phc, err = w.hasher.Hash(context.Background(), goodPW); err != nil {
		t.Fatal(err)
	}
	w.e = w.engine(nil)
	return w
}

// engine is another node's engine over the same replica.
func (w *world) engine(g *authguard.Guard) *Engine {
	return &Engine{State: w.f, Hasher: w.hasher, Signer: w.signer, NodeID: "n1", Now: w.clock.now, Sealer: w.sealer,
		RP: w.rp, Guard: g, Log: slog.New(slog.DiscardHandler), Record: func(s fsm.Session) { w.sessions = append(w.sessions, s) }}
}

// account creates a person (or service account) and commits creds built
// by fill, which may run WebAuthn enrolments against the new entry.
func (w *world) account(class entry.Class, name string, fill func(a *entry.Entry, c *entry.Credentials)) *entry.Entry {
	t := w.t
	t.Helper()
	ctx := context.Background()
	a, _, err := w.svc.Create(ctx, admin, class, idm.Input{Name: str(name)})
	if err != nil {
		t.Fatal(err)
	}
	c := entry.Credentials{}
	fill(a, &c)
	if _, err := w.svc.CommitCredentials(ctx, admin, a.UUID, a.Version, c, ""); err != nil {
		t.Fatalf("commit credentials of %s: %v", name, err)
	}
	a, _ = w.f.Entry(a.UUID)
	return a
}

// enrol registers a WebAuthn credential of kind on the account's own
// authenticator.
func (w *world) enrol(a *entry.Entry, kind fido.Kind, cas *entry.AttestationCAList) entry.WebAuthn {
	t := w.t
	t.Helper()
	auth := w.keys[a.Name]
	if auth == nil {
		if cas != nil {
			auth = fidotest.New(testOrigin, fidotest.WithAttestationCA(w.ca))
		} else {
			auth = fidotest.New(testOrigin)
		}
		w.keys[a.Name] = auth
	}
	opts, state, err := w.rp.BeginRegistration(a, kind, cas != nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Register(opts, kind == fido.Passkey)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("wa-%s-%d", a.Name, len(a.Passkeys)+len(a.SecurityKeys))
	cred, err := w.rp.FinishRegistration(a, kind, state, resp, id, id, cas, w.clock.now())
	if err != nil {
		t.Fatalf("enrol %v for %s: %v", kind, a.Name, err)
	}
	return cred
}

// totpCred makes a TOTP generator for an account.
func (w *world) totpCred(a *entry.Entry) entry.TOTP {
	en, err := totp.Generate(w.sealer, "example.com", a.UUID, a.Name, "t1", "phone", "SHA256", w.clock.now())
	if err != nil {
		w.t.Fatal(err)
	}
	return en.Cred
}

// code is the current TOTP code of an account's first generator.
func (w *world) code(a *entry.Entry) Code {
	c, err := totp.Code(w.sealer, a.UUID, a.TOTP[0], w.clock.now())
	if err != nil {
		w.t.Fatal(err)
	}
	return Code(c)
}

// step runs one step and fails the test on an error.
func (w *world) step(e *Engine, id string, req Request) Response {
	w.t.Helper()
	resp, err := e.Step(context.Background(), id, req, "test")
	if err != nil {
		w.t.Fatalf("step %s: %v", mustJSON(req), err)
	}
	return resp
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func cred(c Cred) Request      { return Request{Step: Step{Cred: &c}} }
func begin(m string) Request   { return Request{Step: Step{Begin: &m}} }
func initReq(n string) Request { return Request{Step: Step{Init: &n}} }
