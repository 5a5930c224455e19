// Package auth is the stepped login protocol: init names the account, the
// server offers the credential sets it may use, the client picks one, then
// one challenge and one answer at a time until success or denial.
//
// In-flight logins live in this node's memory (they are ephemeral state
// with an owner, rule 5): the session id names the node that holds it.
// Everything a login reads comes from the local replica, so logins work
// while the cluster has no leader (rule 4).
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Mechanisms.
const MechPassword = "password"

// Request is one step of the protocol.
type Request struct {
	Step Step `json:"step"`
}

// Step is exactly one of Init, Begin, Cred.
type Step struct {
	Init  *string `json:"init,omitempty"`
	Begin *string `json:"begin,omitempty"`
	Cred  *Cred   `json:"cred,omitempty"`
}

// Cred answers a challenge.
type Cred struct {
	Password *string `json:"password,omitempty"`
}

// State is where a login stands after a step.
type State struct {
	Choose   []string `json:"choose,omitempty"`
	Continue []string `json:"continue,omitempty"`
	Denied   *string  `json:"denied,omitempty"`
	Success  *string  `json:"success,omitempty"`
}

// Response is the answer to one step.
type Response struct {
	SessionID string `json:"sessionid"`
	State     State  `json:"state"`
}

// Tunables.
const (
	InflightTTL    = 300 * time.Second
	SessionExpiry  = 8 * time.Hour
	maxInflight    = 100000
	deniedCreds    = "invalid name or password"
	deniedSequence = "invalid state: start again with init"
)

// ErrBadStep is a malformed or out-of-order step; it reveals nothing.
var ErrBadStep = errors.New(deniedSequence)

// ErrTooMany means the node holds too many unfinished logins.
var ErrTooMany = errors.New("too many logins in progress; try again shortly")

type phase int

const (
	phaseChoose phase = iota
	phaseCred
)

type inflight struct {
	account string // uuid, "" when the name matched nothing
	name    string
	mech    string
	phase   phase
	expires time.Time
}

// Observer receives one call per finished login (metrics, audit).
type Observer func(account, mechanism, result, remote string)

// Engine runs logins on one node.
type Engine struct {
	State   *fsm.FSM
	Hasher  *password.Hasher
	Signer  *token.Signer
	NodeID  string
	Now     func() time.Time
	Observe Observer

	mu       sync.Mutex
	inflight map[string]*inflight
}

func (e *Engine) newID() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	// The node id prefix lets any node see who holds a login.
	return e.NodeID + "." + base64.RawURLEncoding.EncodeToString(b), nil
}

// Owner returns the node that holds an in-flight session id.
func Owner(sessionID string) string {
	node, _, _ := strings.Cut(sessionID, ".")
	return node
}

func (e *Engine) take(id string) (*inflight, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.inflight[id]
	if !ok {
		return nil, false
	}
	if e.Now().After(s.expires) {
		delete(e.inflight, id)
		return nil, false
	}
	return s, true
}

func (e *Engine) drop(id string) {
	e.mu.Lock()
	delete(e.inflight, id)
	e.mu.Unlock()
}

// Sweep forgets expired logins; the server calls it periodically.
func (e *Engine) Sweep() {
	now := e.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, s := range e.inflight {
		if now.After(s.expires) {
			delete(e.inflight, id)
		}
	}
}

// Step advances the login sessionID (empty for init) by one step.
func (e *Engine) Step(ctx context.Context, sessionID string, req Request, remote string) (Response, error) {
	st := req.Step
	n := 0
	for _, set := range []bool{st.Init != nil, st.Begin != nil, st.Cred != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Response{}, ErrBadStep
	}
	if st.Init != nil {
		return e.init(*st.Init)
	}
	s, ok := e.take(sessionID)
	if !ok {
		return Response{}, ErrBadStep
	}
	switch {
	case st.Begin != nil && s.phase == phaseChoose:
		if *st.Begin != MechPassword {
			return Response{}, ErrBadStep
		}
		e.mu.Lock()
		s.mech, s.phase = *st.Begin, phaseCred
		e.mu.Unlock()
		return Response{SessionID: sessionID, State: State{Continue: []string{MechPassword}}}, nil
	case st.Cred != nil && s.phase == phaseCred:
		return e.password(ctx, sessionID, s, st.Cred, remote)
	}
	return Response{}, ErrBadStep
}

func (e *Engine) init(name string) (Response, error) {
	id, err := e.newID()
	if err != nil {
		return Response{}, err
	}
	s := &inflight{name: name, expires: e.Now().Add(InflightTTL)}
	// An unknown name gets the same offer as a real one: the answer must
	// not tell an attacker which accounts exist.
	if acct, ok := e.State.Entry(strings.TrimSuffix(name, "@"+e.State.System().Domain)); ok && acct.Class != entry.Group {
		s.account = acct.UUID
	}
	e.mu.Lock()
	if len(e.inflight) >= maxInflight {
		e.mu.Unlock()
		return Response{}, ErrTooMany
	}
	if e.inflight == nil {
		e.inflight = map[string]*inflight{}
	}
	e.inflight[id] = s
	e.mu.Unlock()
	return Response{SessionID: id, State: State{Choose: []string{MechPassword}}}, nil
}

func (e *Engine) password(ctx context.Context, id string, s *inflight, c *Cred, remote string) (Response, error) {
	if c.Password == nil {
		return Response{}, ErrBadStep
	}
	var phc string
	acct, ok := e.State.Entry(s.account)
	if ok {
		phc = acct.PasswordHash
	}
	good, err := e.Hasher.Verify(ctx, phc, *c.Password)
	if err != nil {
		return Response{}, err
	}
	e.drop(id)
	if !good || !ok {
		e.observe(s.name, "failure", remote)
		return Response{SessionID: id, State: State{Denied: ptr(deniedCreds)}}, nil
	}
	sid, err := e.newID()
	if err != nil {
		return Response{}, err
	}
	now := e.Now()
	tok, err := e.Signer.Sign(token.Claims{
		Claims: jwt.Claims{Subject: acct.UUID, IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(SessionExpiry))},
		SessionID: sid, Name: acct.Name, Mechanism: MechPassword,
	})
	if err != nil {
		return Response{}, err
	}
	e.observe(acct.Name, "success", remote)
	return Response{SessionID: id, State: State{Success: &tok}}, nil
}

func (e *Engine) observe(account, result, remote string) {
	if e.Observe != nil {
		e.Observe(account, MechPassword, result, remote)
	}
}

func ptr[T any](v T) *T { return &v }
