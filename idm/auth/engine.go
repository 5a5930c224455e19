package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// Tunables.
const (
	InflightTTL = 300 * time.Second
	// defaultMaxInflight bounds the in-flight logins of one node.
	defaultMaxInflight = 100000
)

// Denial reasons. None tells whether the account exists: an unknown name
// is offered ["password"], costs the same argon2id work and gets the same
// denial and the same lock as a wrong password.
const (
	DeniedCredentials = "invalid name or credentials"
	DeniedLocked      = "too many failed attempts: this account is locked for a while; try again later"
	DeniedReplay      = "this TOTP code has already been used; wait for the next one"
	DeniedDisabled    = "this account is disabled; ask an administrator"
	DeniedLocalOff    = "local authentication is disabled for this account; sign in through a single sign-on provider"
	deniedSequence    = "invalid state: start again with init"
)

// ErrBadStep is a malformed or out-of-order step, or one without a valid
// in-flight login; it reveals nothing.
var ErrBadStep = errors.New(deniedSequence)

// ErrTooMany means the node holds too many unfinished logins, or its
// password-hash queue is full.
var ErrTooMany = errors.New("too many logins in progress; try again shortly")

// ErrReauthUnavailable: the session's mechanism is no longer allowed for
// its account (credentials or policy changed), so it cannot reauthenticate.
var ErrReauthUnavailable = errors.New("this session's login mechanism is no longer allowed for the account; log in again")

// Observer receives one call per finished login (metrics, audit); result
// is success, failure or locked.
type Observer func(account, mechanism, result, remote string)

// Engine runs logins on one node.
type Engine struct {
	State   *fsm.FSM
	Hasher  *password.Hasher
	Signer  *token.Signer
	NodeID  string
	Now     func() time.Time
	Observe Observer
	// Sealer opens TOTP secrets.
	Sealer *seal.Sealer
	// RP runs WebAuthn ceremonies; nil disables passkeys and security keys.
	RP *fido.RP
	// Guard soft-locks credentials and claims TOTP steps cluster-wide; nil
	// uses a guard of this node alone.
	Guard *authguard.Guard
	// Record, when set, is called with every new session; it must not
	// block (the server proposes session.record in the background, rule 4).
	Record func(fsm.Session)
	Log    *slog.Logger
	// LocalAllowed decides whether an account may log in with its own
	// credentials (password, TOTP, passkeys); nil allows every account.
	// Upstream SSO sets it (global switch, per-user overrides).
	LocalAllowed func(acct *entry.Entry) bool

	mu       sync.Mutex
	inflight map[string]*inflight
	// order holds every stored login's id, oldest first (expiry follows
	// creation); fresh those stored before begin, the eviction candidates.
	// Both are cleaned lazily: an id whose login is gone is skipped.
	order, fresh fifo
	// maxInflight bounds inflight (0: defaultMaxInflight); tests lower it.
	maxInflight int
	localGuard  *authguard.Guard
	// auditKey keys the tag of an unknown name in the audit (auditName).
	auditKey []byte
}

// inflight is one unfinished login.
type inflight struct {
	account      string // uuid; "" for an unknown name (or usernameless, until the passkey names it)
	name         string // as looked up ("@domain" stripped): the lock key of an unknown name
	offered      []string
	mech         string   // chosen mechanism, "" before begin
	factors      []string // factors still to answer, current first
	waState      []byte   // WebAuthn ceremony state of the current factor
	usernameless bool
	reauth       *token.Claims // the session being reauthenticated
	issue        string
	expires      time.Time
	busy         bool // a step is running: a concurrent one is refused
}

// factorsOf lists the factors of a mechanism, in the order they are asked:
// the password always first.
func factorsOf(mech string) []string {
	switch mech {
	case entry.MechPassword, entry.MechGeneratedPassword:
		return []string{FactorPassword}
	case entry.MechPasswordMFA:
		return []string{FactorPassword, FactorTOTP}
	case entry.MechPasswordSecurityKey:
		return []string{FactorPassword, FactorSecurityKey}
	case entry.MechPasskey, entry.MechAttestedPasskey:
		return []string{FactorPasskey}
	}
	return nil
}

func (e *Engine) guard() *authguard.Guard {
	if e.Guard != nil {
		return e.Guard
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.localGuard == nil {
		e.localGuard = authguard.New(authguard.Options{Now: e.Now})
	}
	return e.localGuard
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

func (e *Engine) newID() (string, error) { return NewHandleID(e.NodeID) }

// NewHandleID makes the id of a short-lived handle held by node (a login,
// a credential-update session): "<node>.<144 random bits>". The node
// prefix lets any node see who holds it (Owner) and forward to it (rule 5);
// the random part makes the id itself a capability nobody can guess.
func NewHandleID(node string) (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return node + "." + base64.RawURLEncoding.EncodeToString(b), nil
}

// Owner returns the node that holds an in-flight login (or made a session).
func Owner(sessionID string) string {
	node, _, _ := strings.Cut(sessionID, ".")
	return node
}

// acquire takes the login id for one step; release or drop gives it back.
func (e *Engine) acquire(id string) (*inflight, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.inflight[id]
	if !ok || s.busy {
		return nil, false
	}
	if !e.Now().Before(s.expires) {
		delete(e.inflight, id)
		return nil, false
	}
	s.busy = true
	return s, true
}

func (e *Engine) release(s *inflight) {
	e.mu.Lock()
	s.busy = false
	e.mu.Unlock()
}

func (e *Engine) drop(id string) {
	e.mu.Lock()
	delete(e.inflight, id)
	e.mu.Unlock()
}

// store keeps a new login and returns its id. When the table is full it
// first drops expired logins, then evicts the oldest login that never got
// past choose: a flood of bare inits costs an attacker nothing, and must
// not keep real users from starting a login. Only a table full of begun
// logins answers ErrTooMany.
func (e *Engine) store(s *inflight) (string, error) {
	id, err := e.newID()
	if err != nil {
		return "", err
	}
	now := e.Now()
	s.expires = now.Add(InflightTTL)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight == nil {
		e.inflight = map[string]*inflight{}
	}
	if len(e.inflight) >= e.limit() && !e.makeRoom(now) {
		return "", ErrTooMany
	}
	e.inflight[id] = s
	e.order.push(id)
	if s.mech == "" {
		e.fresh.push(id)
	}
	e.compact()
	return id, nil
}

func (e *Engine) limit() int {
	if e.maxInflight > 0 {
		return e.maxInflight
	}
	return defaultMaxInflight
}

// makeRoom frees one slot of the full table, cheaply: both queues are
// consumed from the front, so each id is looked at once. Holds e.mu.
func (e *Engine) makeRoom(now time.Time) bool {
	for {
		id, ok := e.order.peek()
		if !ok {
			break
		}
		s, live := e.inflight[id]
		if live && now.Before(s.expires) {
			break // every later login expires later
		}
		e.order.pop()
		delete(e.inflight, id)
	}
	if len(e.inflight) < e.limit() {
		return true
	}
	for {
		id, ok := e.fresh.peek()
		if !ok {
			return false
		}
		e.fresh.pop()
		// A begun login (or one in its begin step right now) is no longer
		// a candidate; it stays in the table.
		if s, live := e.inflight[id]; live && s.mech == "" && !s.busy {
			delete(e.inflight, id)
			return true
		}
	}
}

// compact drops the ids of logins that are gone from the queues once they
// hold more than twice the table: amortised O(1) per login. Holds e.mu.
func (e *Engine) compact() {
	bound := 2*len(e.inflight) + 1024
	if e.order.size() > bound {
		e.order.keep(func(id string) bool { _, ok := e.inflight[id]; return ok })
	}
	if e.fresh.size() > bound {
		e.fresh.keep(func(id string) bool { s, ok := e.inflight[id]; return ok && s.mech == "" })
	}
}

// Sweep forgets expired logins (and the guard's stale records); the server
// calls it periodically.
func (e *Engine) Sweep() {
	now := e.Now()
	e.mu.Lock()
	for id, s := range e.inflight {
		if !now.Before(s.expires) {
			delete(e.inflight, id)
		}
	}
	e.compact()
	e.mu.Unlock()
	e.guard().Sweep()
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
	switch req.Issue {
	case "", IssueToken, IssueCookie:
	default:
		return Response{}, ErrBadStep
	}
	if st.Init != nil {
		return e.init(*st.Init, req.Issue)
	}
	s, ok := e.acquire(sessionID)
	if !ok {
		return Response{}, ErrBadStep
	}
	if req.Issue != "" {
		s.issue = req.Issue
	}
	var (
		resp Response
		err  error
	)
	switch {
	case st.Begin != nil && s.mech == "":
		resp, err = e.begin(ctx, sessionID, s, *st.Begin)
	case st.Cred != nil && s.mech != "" && len(s.factors) > 0 && st.Cred.set() == 1:
		resp, err = e.cred(ctx, sessionID, s, st.Cred, remote)
	default:
		err = ErrBadStep
	}
	if err != nil || (resp.State.Success == nil && resp.State.Denied == nil) {
		e.release(s)
	}
	return resp, err
}

// account returns the in-flight login's account as the replica holds it now.
func (e *Engine) account(s *inflight) (*entry.Entry, bool) {
	if s.account == "" {
		return nil, false
	}
	a, ok := e.State.Entry(s.account)
	if !ok || a.Class == entry.Group {
		return nil, false
	}
	return a, true
}

// allowed is what the account may log in with now: its credentials'
// mechanisms at or above its resolved credential-type minimum.
func (e *Engine) allowed(a *entry.Entry) ([]string, policy.Resolved) {
	pol := policy.ForAccount(e.State, a.UUID)
	return entry.Allowed(a.Credentials.Mechanisms(), pol.CredentialTypeMinimum), pol
}

// unknownOffer is what a name that matches nothing (or an account that can
// use nothing) is offered: plausible, fixed, revealing nothing.
var unknownOffer = []string{entry.MechPassword}

func (e *Engine) init(name, issue string) (Response, error) {
	domain := e.State.System().Domain
	// A longer name cannot name an account (nor its spn): refusing it keeps
	// megabytes of "name" out of the in-flight table and the guard's
	// tables on every peer.
	if len(name) > entry.MaxNameLen+1+len(domain) {
		return Response{}, ErrBadStep
	}
	// The lock of an unknown name is keyed by exactly what the lookup saw,
	// so every spelling behaves for an unknown name as for a known one:
	// "x" and "x@domain" share one lock, "X" and "x" do not.
	name = strings.TrimSuffix(name, "@"+domain)
	s := &inflight{name: name, issue: issue}
	if name == "" {
		s.usernameless, s.offered = true, []string{entry.MechPasskey}
	} else {
		s.offered = unknownOffer
		if a, ok := e.State.Entry(name); ok && a.Class != entry.Group {
			if mechs, _ := e.allowed(a); len(mechs) > 0 {
				s.account, s.offered = a.UUID, mechs
			}
		}
	}
	id, err := e.store(s)
	if err != nil {
		return Response{}, err
	}
	return Response{SessionID: id, State: State{Choose: slices.Clone(s.offered)}}, nil
}

func (e *Engine) begin(ctx context.Context, id string, s *inflight, mech string) (Response, error) {
	if !slices.Contains(s.offered, mech) {
		return Response{}, ErrBadStep
	}
	s.mech, s.factors = mech, factorsOf(mech)
	return e.challenge(id, s)
}

// challenge asks for the current factor.
func (e *Engine) challenge(id string, s *inflight) (Response, error) {
	f := s.factors[0]
	c := Challenge{Factor: f}
	switch f {
	case FactorSecurityKey, FactorPasskey:
		opts, state, err := e.beginWebAuthn(s, f)
		if err != nil {
			return Response{}, err
		}
		c.Options, s.waState = opts, state
	}
	return Response{SessionID: id, State: State{Continue: []Challenge{c}}}, nil
}

func (e *Engine) cred(ctx context.Context, id string, s *inflight, c *Cred, remote string) (Response, error) {
	var (
		v   verdict
		err error
	)
	switch f := s.factors[0]; {
	case f == FactorPassword && c.Password != nil:
		v, err = e.password(ctx, s, *c.Password)
	case f == FactorTOTP && c.TOTP != nil:
		v, err = e.totp(ctx, s, *c.TOTP)
	case f == FactorSecurityKey && len(c.SecurityKey) > 0:
		v, err = e.securityKey(ctx, s, c.SecurityKey)
	case f == FactorPasskey && len(c.Passkey) > 0:
		v, err = e.passkey(ctx, s, c.Passkey)
	default:
		return Response{}, ErrBadStep
	}
	if err != nil {
		return Response{}, err
	}
	if v != passed {
		return e.deny(id, s, v, remote), nil
	}
	s.factors, s.waState = s.factors[1:], nil
	if len(s.factors) > 0 {
		return e.challenge(id, s)
	}
	return e.finish(id, s, remote)
}

// verdict is the outcome of one factor.
type verdict int

const (
	passed verdict = iota
	wrong
	locked
	replayed
	disabled
	localOff
)

// deny ends the login.
func (e *Engine) deny(id string, s *inflight, v verdict, remote string) Response {
	e.drop(id)
	reason, result := DeniedCredentials, "failure"
	switch v {
	case locked:
		reason, result = DeniedLocked, "locked"
	case replayed:
		reason = DeniedReplay
	case disabled:
		reason, result = DeniedDisabled, "disabled"
	case localOff:
		reason, result = DeniedLocalOff, "local_disabled"
	}
	e.observe(s, result, remote)
	return Response{SessionID: id, State: State{Denied: &reason}}
}

func (e *Engine) observe(s *inflight, result, remote string) {
	if e.Observe == nil {
		return
	}
	var who string
	if a, ok := e.account(s); ok {
		who = a.Name
	} else {
		who = e.auditName(s.name)
	}
	mech := s.mech
	if mech == "" {
		mech = "none"
	}
	e.Observe(who, mech, result, remote)
}

// auditName tags a name that matched no account for the audit. The name
// itself never goes there: users type passwords into the name field
// (rule 3, secrets never in clear). The tag is the first 8 hex digits of
// an HMAC under a key random to this engine, so repeated attempts with one
// name stay visible in the log of this node, while a leaked log cannot be
// checked against a dictionary of passwords as a plain hash could.
func (e *Engine) auditName(name string) string {
	if name == "" {
		return "unknown"
	}
	e.mu.Lock()
	if e.auditKey == nil {
		e.auditKey = make([]byte, 32)
		rand.Read(e.auditKey) // never fails (crypto/rand since Go 1.24)
	}
	key := e.auditKey
	e.mu.Unlock()
	m := hmac.New(sha256.New, key)
	m.Write([]byte(name))
	return "unknown:" + hex.EncodeToString(m.Sum(nil)[:4])
}

// lockKey names a factor of the login's account for the guard: by uuid,
// or by the looked-up name when the name matched nothing.
func lockKey(s *inflight, factor string) string {
	if s.account != "" {
		return authguard.Key(s.account, factor)
	}
	return authguard.NameKey(s.name, factor)
}

// fifo is a queue of login ids; see Engine.order.
type fifo struct {
	ids  []string
	head int
}

func (q *fifo) push(id string) { q.ids = append(q.ids, id) }

// size is the length of the backing array in use, popped slots included.
func (q *fifo) size() int { return len(q.ids) }

func (q *fifo) peek() (string, bool) {
	if q.head == len(q.ids) {
		return "", false
	}
	return q.ids[q.head], true
}

func (q *fifo) pop() {
	q.ids[q.head] = ""
	if q.head++; q.head == len(q.ids) {
		q.ids, q.head = q.ids[:0], 0
	}
}

// keep retains, in order, the ids for which live is true.
func (q *fifo) keep(live func(string) bool) {
	out := q.ids[:0]
	for _, id := range q.ids[q.head:] {
		if live(id) {
			out = append(out, id)
		}
	}
	clear(q.ids[len(out):])
	q.ids, q.head = out, 0
}
