package credupdate

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/auth"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
	"github.com/gatehouse-idm/gatehouse/idm/totp"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// Bounds of the session table.
const (
	// IdleExpiry: a session untouched this long is forgotten. Long enough
	// to find a phone and scan a QR code, short enough that an abandoned
	// browser tab does not keep a reset session alive for long.
	IdleExpiry = 15 * time.Minute
	// DefaultMaxSessions bounds memory: each session holds a copy of one
	// account's credentials (a few KiB at most).
	DefaultMaxSessions = 4096
	// MaxPerAccount: opening more sessions for one account forgets its
	// least recently used one, so that one account (or one leaked reset
	// token) cannot fill the table.
	MaxPerAccount = 8
)

// Manager holds the credential-update sessions opened on this node.
type Manager struct {
	Svc    *idm.Service
	Sealer *seal.Sealer // seals TOTP secrets (rule 3)
	// RP runs WebAuthn ceremonies; nil leaves passkeys and security keys out.
	RP     *fido.RP
	NodeID string
	Now    func() time.Time
	// Max bounds the open sessions; 0 means DefaultMaxSessions.
	Max int

	mu       sync.Mutex
	sessions map[string]*session
}

// New returns a manager for this node.
func New(svc *idm.Service, sealer *seal.Sealer, rp *fido.RP, nodeID string) *Manager {
	return &Manager{Svc: svc, Sealer: sealer, RP: rp, NodeID: nodeID, Now: time.Now}
}

// Caller identifies who makes a request on a session: the login session of
// the caller's token (zero for a request without one).
type Caller struct {
	SessionID string
	Account   string
	// ReadWrite: the caller's login session is inside its privilege window
	// at the time of this request (token.Claims.ReadWrite(now)). A session
	// opened by a login needs it for every change and for the commit, not
	// only for the opening: the session id stays the same after the
	// privilege expires, so checking it once would let a read-only login
	// keep writing through an update opened earlier.
	ReadWrite bool
}

// owner is the part of a Caller a session is bound to.
func (c Caller) owner() Caller { return Caller{SessionID: c.SessionID, Account: c.Account} }

// session is one credential update in progress.
type session struct {
	mu sync.Mutex // one operation at a time; hashing is done under it

	id      string
	account string // uuid
	// boundTo: the login session that opened it (ReadWrite always false);
	// zero for a reset session, whose id (144 random bits, handed only to
	// the opener) is the capability.
	boundTo   Caller
	version   uint64 // entry version the working copy started from
	creds     entry.Credentials
	resetHash string
	totp      *totp.Enrolment // generated, not verified yet
	webauthn  *pendingWebAuthn
	lastUsed  time.Time
	done      bool // committed or cancelled
}

type pendingWebAuthn struct {
	kind  fido.Kind
	label string
	state []byte
	id    string
}

// errNoSession is the one answer for an unknown, expired or foreign
// session: it does not say which.
func errNoSession() error {
	return idm.NotFound("no such credential-update session: it may have expired (after 15 minutes idle), been committed or cancelled, or belong to another login; open a new one")
}

func (m *Manager) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *Manager) newID() (string, error) { return auth.NewHandleID(m.NodeID) }

// sweepLocked forgets idle sessions; m.mu is held.
func (m *Manager) sweepLocked(now time.Time) {
	for id, s := range m.sessions {
		if now.Sub(s.lastUsed) > IdleExpiry {
			delete(m.sessions, id)
		}
	}
}

func (m *Manager) add(s *session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions == nil {
		m.sessions = map[string]*session{}
	}
	now := m.now()
	m.sweepLocked(now)
	max := m.Max
	if max <= 0 {
		max = DefaultMaxSessions
	}
	var mine []*session
	for _, o := range m.sessions {
		if o.account == s.account {
			mine = append(mine, o)
		}
	}
	if len(mine) >= MaxPerAccount {
		oldest := mine[0]
		for _, o := range mine[1:] {
			if o.lastUsed.Before(oldest.lastUsed) {
				oldest = o
			}
		}
		delete(m.sessions, oldest.id)
	}
	if len(m.sessions) >= max {
		return idm.Unavailable("too many credential updates are in progress on this node; try again in a few minutes")
	}
	s.lastUsed = now
	m.sessions[s.id] = s
	return nil
}

// Len is the number of open sessions (for metrics and tests).
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// access is what an operation asks of the caller.
type access bool

const (
	read  access = false // status, password check, cancel: any session of the owner
	write access = true  // a change to the working copy, or the commit
)

// take finds a session the caller may use, locks it and refreshes its idle
// timer. The caller must call unlock. The caller is checked before the
// timer is refreshed, so that a stranger who learnt the id cannot keep the
// session alive, nor a refused write keep it open either. For a session
// opened by a login, a write needs the caller's session to be read-write
// now (else 403 reauth_required); a reset session has no login to ask.
func (m *Manager) take(id string, c Caller, acc access) (*session, error) {
	m.mu.Lock()
	s, ok := m.sessions[id]
	now := m.now()
	if ok && now.Sub(s.lastUsed) > IdleExpiry {
		delete(m.sessions, id)
		ok = false
	}
	if ok && s.boundTo != (Caller{}) && s.boundTo != c.owner() {
		ok = false
	}
	if !ok {
		m.mu.Unlock()
		return nil, errNoSession()
	}
	if acc == write && s.boundTo != (Caller{}) && !c.ReadWrite {
		m.mu.Unlock()
		return nil, idm.ReauthRequired()
	}
	s.lastUsed = now
	m.mu.Unlock()
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil, errNoSession()
	}
	return s, nil
}

func (m *Manager) drop(s *session) {
	s.done = true
	m.mu.Lock()
	delete(m.sessions, s.id)
	m.mu.Unlock()
}

// Open starts a credential update for the caller's own account, whose
// session must be read-write.
func (m *Manager) Open(ctx context.Context, c Caller) (string, Status, error) {
	if c.SessionID == "" || c.Account == "" {
		return "", Status{}, idm.Unauthorized("a credential update needs a login session")
	}
	if !c.ReadWrite {
		return "", Status{}, idm.ReauthRequired()
	}
	return m.open(c.Account, c.owner(), "")
}

// OpenReset starts a credential update with a one-time reset token. The
// token is checked here and consumed by the commit.
func (m *Manager) OpenReset(ctx context.Context, token string) (string, Status, error) {
	if token == "" || len(token) > 256 {
		return "", Status{}, idm.Invalid("a reset token is required")
	}
	hash := idm.HashResetToken(token)
	t, ok := m.Svc.State.ResetToken(hash)
	if !ok || t.Expires < m.now().UnixMilli() {
		return "", Status{}, idm.Forbidden("this reset token is not valid: it was used already, has expired, or never existed; ask an administrator for a new one")
	}
	return m.open(t.Account, Caller{}, hash)
}

func (m *Manager) open(account string, c Caller, resetHash string) (string, Status, error) {
	e, ok := m.Svc.State.Entry(account)
	if !ok || e.Class == entry.Group {
		return "", Status{}, idm.NotFound("the account no longer exists")
	}
	id, err := m.newID()
	if err != nil {
		return "", Status{}, err
	}
	s := &session{id: id, account: e.UUID, boundTo: c, version: e.Version, creds: e.Credentials.Clone(), resetHash: resetHash}
	if err := m.add(s); err != nil {
		return "", Status{}, err
	}
	return id, m.status(s, e), nil
}

// Status describes the working copy of a session.
func (m *Manager) Status(id string, c Caller) (Status, error) {
	s, err := m.take(id, c, read)
	if err != nil {
		return Status{}, err
	}
	defer s.mu.Unlock()
	return m.statusOf(s)
}

// Cancel forgets a session without changing anything (so a read-only
// session may do it).
func (m *Manager) Cancel(id string, c Caller) error {
	s, err := m.take(id, c, read)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	m.drop(s)
	return nil
}

// statusOf reads the account and builds the status; s is locked.
func (m *Manager) statusOf(s *session) (Status, error) {
	e, ok := m.Svc.State.Entry(s.account)
	if !ok {
		m.drop(s)
		return Status{}, idm.NotFound("the account no longer exists")
	}
	return m.status(s, e), nil
}
