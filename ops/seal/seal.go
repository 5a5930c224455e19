// Package seal encrypts secrets with AES-256-GCM under the cluster
// encryption key before they are proposed to the Raft log (rule 3), so the
// log, the state file and snapshots never hold them in clear.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// format is the first byte of every sealed value, so a later key rotation
// can tell old seals from new.
const format = 1

// Sealer seals and opens values with one 32-byte key.
type Sealer struct {
	aead cipher.AEAD
}

// New makes a Sealer; the key must be 32 bytes (AES-256).
func New(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: the cluster encryption key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain with a fresh random 96-bit nonce. aad binds the value
// to its purpose (e.g. "signing-key:<kid>") so a sealed value cannot be moved
// to another field.
func (s *Sealer) Seal(plain, aad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := append([]byte{format}, nonce...)
	return s.aead.Seal(out, nonce, plain, aad), nil
}

// Open decrypts a value made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != format {
		return nil, errors.New("seal: not a sealed value")
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, errors.New("seal: cannot open: wrong cluster encryption key or damaged value")
	}
	return plain, nil
}
