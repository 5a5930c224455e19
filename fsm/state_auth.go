package fsm

import (
	"encoding/json"
	"slices"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	bolt "go.etcd.io/bbolt"
)

// view runs fn in a read transaction of the store.
// record reads one JSON record of a bucket from the store.
func record[T any](f *FSM, bucket []byte, key string) (T, bool) {
	var v T
	var ok bool
	f.view(func(tx *bolt.Tx) error {
		ok, _ = getJSON(tx.Bucket(bucket), key, &v)
		return nil
	})
	return v, ok
}

func (f *FSM) view(fn func(tx *bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return nil
	}
	return f.db.View(fn)
}

// IsRevoked reports whether a session was revoked (and has not expired).
func (f *FSM) IsRevoked(sessionID string) bool {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.revoked[sessionID]
}

// Session returns one session record.
func (f *FSM) Session(id string) (Session, bool) {
	return record[Session](f, bSessions, id)
}

// Sessions lists the recorded sessions of an account, oldest first
// (expired ones may linger until pruned: callers compare Expires).
func (f *FSM) Sessions(account string) []Session {
	var out []Session
	f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bSessions).ForEach(func(_, v []byte) error {
			var s Session
			if json.Unmarshal(v, &s) == nil && s.Account == account {
				out = append(out, s)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(x, y Session) int {
		switch {
		case x.Issued < y.Issued:
			return -1
		case x.Issued > y.Issued:
			return 1
		}
		return 0
	})
	return out
}

// ResetToken returns the reset token stored under a SHA-256 hex hash.
func (f *FSM) ResetToken(hash string) (ResetToken, bool) {
	return record[ResetToken](f, bResetTokens, hash)
}

// IsBadlisted reports whether a lower-cased password is on the badlist.
func (f *FSM) IsBadlisted(lower string) bool {
	var ok bool
	f.view(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bBadlist).Get([]byte(lower)) != nil
		return nil
	})
	return ok
}

// BadlistCount is the number of badlisted passwords.
func (f *FSM) BadlistCount() int {
	var n int
	f.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bBadlist).Stats().KeyN
		return nil
	})
	return n
}

// ForEachBadlisted calls fn for every badlisted password in order.
func (f *FSM) ForEachBadlisted(fn func(string)) {
	f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bBadlist).ForEach(func(k, _ []byte) error { fn(string(k)); return nil })
	})
}

// EntryByPrincipal finds the person that lists a Kerberos principal.
func (f *FSM) EntryByPrincipal(principal string) (*entry.Entry, bool) {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	u, ok := c.byPrincipal[principal]
	if !ok {
		return nil, false
	}
	e, ok := c.byUUID[u]
	if !ok {
		return nil, false
	}
	return e.Clone(), true
}

// EntryByExternalID finds the person an upstream identity is linked to.
func (f *FSM) EntryByExternalID(provider, subject string) (*entry.Entry, bool) {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.byUUID[c.byExternal[entry.ExternalKey(provider, subject)]]
	if !ok {
		return nil, false
	}
	return e.Clone(), true
}
