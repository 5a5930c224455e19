// Package seal encrypts secrets with AES-256-GCM under the cluster
// encryption key before they are proposed to the Raft log (rule 3), so the
// log, the state file and snapshots never hold them in clear.
//
// A Sealer holds a key ring: the current key seals, every key in the ring
// opens. That is what lets `gatehouse cluster rotate-encryption-key` swap
// keys without downtime: every node learns the new key first, then seals
// with it, then the old values are re-sealed, then the old key goes.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
)

// Formats of a sealed value, its first byte. Format 1 (no key id) is what
// nodes wrote before key rotation existed; it is opened by trying every
// key. Format 2 names the key: 1 byte format, 4 bytes key id, nonce, ciphertext.
const (
	format1 = 1
	format2 = 2
)

// KeyID is the public name of a key: the first 4 bytes of its SHA-256.
type KeyID [4]byte

func (k KeyID) String() string { return fmt.Sprintf("%x", k[:]) }

// IDOf names a key.
func IDOf(key []byte) KeyID {
	sum := sha256.Sum256(key)
	return KeyID(sum[:4])
}

type ringKey struct {
	id   KeyID
	aead cipher.AEAD
}

// Sealer seals with the current key and opens with any key of its ring.
// It is safe for concurrent use; the ring may change while it is used.
type Sealer struct {
	mu   sync.RWMutex
	keys []ringKey // keys[0] is current
}

func newKey(key []byte) (ringKey, error) {
	if len(key) != 32 {
		return ringKey{}, fmt.Errorf("seal: the cluster encryption key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return ringKey{}, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return ringKey{}, fmt.Errorf("seal: %w", err)
	}
	return ringKey{id: IDOf(key), aead: aead}, nil
}

// New makes a Sealer of one key; the key must be 32 bytes (AES-256).
func New(key []byte) (*Sealer, error) { return NewRing([][]byte{key}) }

// NewRing makes a Sealer whose first key seals and whose every key opens.
func NewRing(keys [][]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	s := &Sealer{}
	for _, k := range keys {
		rk, err := newKey(k)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, rk)
	}
	return s, nil
}

// Current is the id of the key that seals.
func (s *Sealer) Current() KeyID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[0].id
}

// IDs lists the ring, current first.
func (s *Sealer) IDs() []KeyID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]KeyID, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.id
	}
	return ids
}

// Add puts key in the ring for opening, and makes it the sealing key when
// current is set. Adding a key already there only moves it.
func (s *Sealer) Add(key []byte, current bool) error {
	rk, err := newKey(key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rest := make([]ringKey, 0, len(s.keys)+1)
	for _, k := range s.keys {
		if k.id != rk.id {
			rest = append(rest, k)
		}
	}
	if current {
		s.keys = append([]ringKey{rk}, rest...)
	} else if len(rest) == len(s.keys) {
		s.keys = append(rest, rk)
	}
	return nil
}

// Retain drops every key but the current one.
func (s *Sealer) Retain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = s.keys[:1]
}

// Seal encrypts plain with the current key and a fresh random 96-bit
// nonce. aad binds the value to its purpose (e.g. "signing-key:<kid>") so
// a sealed value cannot be moved to another field.
func (s *Sealer) Seal(plain, aad []byte) ([]byte, error) {
	s.mu.RLock()
	k := s.keys[0]
	s.mu.RUnlock()
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := append([]byte{format2}, k.id[:]...)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plain, aad), nil
}

// KeyOf says which key sealed a value (ok false for format 1 values,
// which do not say).
func KeyOf(sealed []byte) (KeyID, bool) {
	if len(sealed) < 5 || sealed[0] != format2 {
		return KeyID{}, false
	}
	return KeyID(sealed[1:5]), true
}

// Open decrypts a value made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	s.mu.RLock()
	keys := s.keys
	s.mu.RUnlock()
	bad := errors.New("seal: not a sealed value")
	if len(sealed) == 0 {
		return nil, bad
	}
	switch sealed[0] {
	case format1:
		for _, k := range keys {
			if p, err := open(k, sealed[1:], aad); err == nil {
				return p, nil
			}
		}
	case format2:
		if len(sealed) < 5 {
			return nil, bad
		}
		for _, k := range keys {
			if bytes.Equal(k.id[:], sealed[1:5]) {
				if p, err := open(k, sealed[5:], aad); err == nil {
					return p, nil
				}
			}
		}
	default:
		return nil, bad
	}
	return nil, errors.New("seal: cannot open: wrong cluster encryption key or damaged value")
}

func open(k ringKey, body, aad []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(body) < n+k.aead.Overhead() {
		return nil, errors.New("short")
	}
	return k.aead.Open(nil, body[:n], body[n:], aad)
}
