// Package password hashes and verifies passwords with argon2id, with a
// bound on how many hashes run at once: each takes ~19 MiB and ~20 ms, so
// unbounded concurrency under a login storm exhausts memory, while a queue
// keeps throughput at the machine's limit.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters of new hashes (OWASP's argon2id baseline).
const (
	memoryKiB = 19456
	timeCost  = 2
	threads   = 1
	saltLen   = 16
	keyLen    = 32
)

// ErrBusy means the hash queue is full; the caller answers 503.
var ErrBusy = errors.New("too many password checks in progress; try again shortly")

// Hasher bounds concurrent argon2id work.
type Hasher struct {
	slots chan struct{} // running hashes
	queue chan struct{} // running + waiting
}

// NewHasher allows concurrent hashes at once (0: 2×GOMAXPROCS) and queue
// more waiting (0: 64×concurrent) before answering ErrBusy.
func NewHasher(concurrent, queue int) *Hasher {
	if concurrent <= 0 {
		concurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if queue <= 0 {
		queue = 64 * concurrent
	}
	return &Hasher{slots: make(chan struct{}, concurrent), queue: make(chan struct{}, concurrent+queue)}
}

func (h *Hasher) run(ctx context.Context, fn func()) error {
	select {
	case h.queue <- struct{}{}:
	default:
		return ErrBusy
	}
	defer func() { <-h.queue }()
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-h.slots }()
	fn()
	return nil
}

// Hash returns a PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	var key []byte
	if err := h.run(ctx, func() { key = argon2.IDKey([]byte(pw), salt, timeCost, memoryKiB, threads, keyLen) }); err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, timeCost, threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// dummy is verified against when an account has no password, so that the
// answer takes as long as for a real account.
const dummy = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$0nuNnAnN1Z8lfJ8/NnM94fVrVMqPw6ET0O5Jp9MfXdg"

// Verify checks pw against a PHC string. An empty phc is checked against a
// dummy and always fails, in the same time.
func (h *Hasher) Verify(ctx context.Context, phc, pw string) (bool, error) {
	target := phc
	if target == "" {
		target = dummy
	}
	p, err := parse(target)
	if err != nil {
		return false, err
	}
	var key []byte
	if err := h.run(ctx, func() { key = argon2.IDKey([]byte(pw), p.salt, p.t, p.m, p.p, uint32(len(p.key))) }); err != nil {
		return false, err
	}
	return phc != "" && subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type params struct {
	m, t      uint32
	p         uint8
	salt, key []byte
}

func parse(phc string) (params, error) {
	var p params
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, errors.New("password hash is not argon2id")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, errors.New("password hash has an unknown argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.m, &p.t, &p.p); err != nil {
		return p, errors.New("password hash has malformed parameters")
	}
	if p.m > 1<<22 || p.t > 16 || p.p == 0 {
		return p, errors.New("password hash parameters are out of range")
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, errors.New("password hash has a malformed salt")
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 {
		return p, errors.New("password hash has a malformed key")
	}
	return p, nil
}

// Generate returns a random password of n characters from an alphabet
// without look-alikes, for recover-account and generated credentials.
func Generate(n int) (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}
