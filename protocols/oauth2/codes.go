package oauth2

import (
	"sync"
	"time"
)

// MaxCodes bounds the authorization codes (and remembered used codes) one
// node holds: a logged-in user can mint codes at will, so memory must not
// grow with them. Every code has the same life, so insertion order is
// expiry order and the oldest is evicted first when the store is full.
const MaxCodes = 50000

// codeGrant is an issued authorization code, held in this node's memory.
type codeGrant struct {
	clientUUID, clientID, redirect, challenge, account, nonce string
	parent                                                    string // the login session the code came from
	scopes                                                    []string
	authTime, limit, expires                                  time.Time
	amr                                                       []string
}

// usedCode remembers an exchanged code until it would have expired, so
// that a replay can revoke what the first exchange issued.
type usedCode struct {
	session, account string
	until, limit     time.Time
}

// fifo is a bounded insertion-ordered key queue.
type fifo struct {
	keys []string
	head int
}

func (q *fifo) push(k string) { q.keys = append(q.keys, k) }
func (q *fifo) len() int      { return len(q.keys) - q.head }
func (q *fifo) front() string { return q.keys[q.head] }
func (q *fifo) pop() {
	q.keys[q.head] = ""
	q.head++
	if q.head > 1024 && q.head*2 > len(q.keys) { // compact
		q.keys = append([]string(nil), q.keys[q.head:]...)
		q.head = 0
	}
}

// evict makes room for one more key in m: it drops keys from the front of
// q while they are gone from m, no longer live, or m is at limit. Every
// entry has the same life, so the front is the first to expire.
func evict[V any](q *fifo, m map[string]V, live func(V) bool, limit int) {
	for q.len() > 0 {
		k := q.front()
		v, ok := m[k]
		if ok && live(v) && len(m) < limit {
			break
		}
		delete(m, k)
		q.pop()
	}
}

type codeStore struct {
	mu       sync.Mutex
	max      int // 0: MaxCodes
	codes    map[string]*codeGrant
	used     map[string]usedCode
	order    fifo // codes in issue order (may name codes already taken)
	usedList fifo
}

func (s *codeStore) limit() int {
	if s.max > 0 {
		return s.max
	}
	return MaxCodes
}

func (s *codeStore) init() {
	if s.codes == nil {
		s.codes, s.used = map[string]*codeGrant{}, map[string]usedCode{}
	}
}

// put stores a code; it first drops expired codes from the front of the
// queue, then the oldest ones while the store is full.
func (s *codeStore) put(code string, g *codeGrant, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	evict(&s.order, s.codes, func(c *codeGrant) bool { return now.Before(c.expires) }, s.limit())
	s.codes[code] = g
	s.order.push(code)
}

// take consumes a code: it is gone after the first call, whatever follows.
// A code already exchanged returns its usedCode (once) so that the caller
// revokes what the first exchange issued.
func (s *codeStore) take(code string, now time.Time) (*codeGrant, *usedCode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.codes[code]
	if !ok {
		if u, used := s.used[code]; used {
			delete(s.used, code)
			return nil, &u
		}
		return nil, nil
	}
	delete(s.codes, code)
	if now.After(g.expires) {
		return nil, nil
	}
	return g, nil
}

func (s *codeStore) markUsed(code string, u usedCode, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	evict(&s.usedList, s.used, func(v usedCode) bool { return now.Before(v.until) }, s.limit())
	s.used[code] = u
	s.usedList.push(code)
}

// size is the number of codes held (tests).
func (s *codeStore) size() (codes, used int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.codes), len(s.used)
}
