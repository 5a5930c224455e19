package oauth2

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// ServiceSecretTTL is how long a service account's verified secret is
// remembered on a node: an argon2id verification per grant would cap
// client credentials at the hasher's pace (tens per second).
const ServiceSecretTTL = 5 * time.Minute

// Secrets checks client secrets and service-account passwords. Opened
// client secrets and HMACs of verified service-account passwords are kept
// in memory, keyed by the entry's version so that a reset takes effect at
// once.
type Secrets struct {
	Sealer *seal.Sealer
	Hasher *password.Hasher
	Now    func() time.Time

	once     sync.Once
	macKey   []byte
	mu       sync.RWMutex
	clients  map[string]openedSecret
	services map[string]serviceSecret
}

type openedSecret struct {
	version uint64
	secret  []byte
}

type serviceSecret struct {
	version uint64
	mac     [sha256.Size]byte
	until   time.Time
}

func (s *Secrets) init() {
	s.once.Do(func() {
		s.macKey = make([]byte, 32)
		rand.Read(s.macKey)
		s.clients = map[string]openedSecret{}
		s.services = map[string]serviceSecret{}
	})
}

// CheckClient reports whether secret is the basic client's secret
// (constant time against the opened sealed secret).
func (s *Secrets) CheckClient(c *entry.Entry, secret string) bool {
	if c == nil || c.OAuth2 == nil || c.OAuth2.Public || len(c.OAuth2.SealedSecret) == 0 || secret == "" {
		return false
	}
	s.init()
	s.mu.RLock()
	o, ok := s.clients[c.UUID]
	s.mu.RUnlock()
	if !ok || o.version != c.Version {
		plain, err := s.Sealer.Open(c.OAuth2.SealedSecret, entry.OAuth2SecretAAD(c.UUID))
		if err != nil {
			return false
		}
		o = openedSecret{version: c.Version, secret: plain}
		s.mu.Lock()
		s.clients[c.UUID] = o
		s.mu.Unlock()
	}
	return subtle.ConstantTimeCompare(o.secret, []byte(secret)) == 1
}

func (s *Secrets) mac(secret string) [sha256.Size]byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(secret))
	var out [sha256.Size]byte
	copy(out[:], m.Sum(nil))
	return out
}

// CheckService reports whether secret is the service account's password:
// argon2id through the bounded hasher once, then an HMAC remembered for
// ServiceSecretTTL. Disabled accounts are refused.
func (s *Secrets) CheckService(ctx context.Context, e *entry.Entry, secret string) (bool, error) {
	if e == nil || e.Class != entry.ServiceAccount || e.Disabled || e.PasswordHash == "" || secret == "" {
		return false, nil
	}
	s.init()
	now := s.Now()
	m := s.mac(secret)
	s.mu.RLock()
	c, ok := s.services[e.UUID]
	s.mu.RUnlock()
	if ok && c.version == e.Version && now.Before(c.until) && hmac.Equal(c.mac[:], m[:]) {
		return true, nil
	}
	good, err := s.Hasher.Verify(ctx, e.PasswordHash, secret)
	if err != nil || !good {
		return false, err
	}
	s.mu.Lock()
	if len(s.services) > 100000 {
		s.services = map[string]serviceSecret{}
	}
	s.services[e.UUID] = serviceSecret{version: e.Version, mac: m, until: now.Add(ServiceSecretTTL)}
	s.mu.Unlock()
	return true, nil
}
