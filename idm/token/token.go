// Package token issues and verifies session tokens: compact JWS signed
// ES256 with the cluster's signing keys. Every node verifies locally from
// its replicated copy of the public keys; no node asks another.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims of a session token.
type Claims struct {
	jwt.Claims
	SessionID string `json:"sid"`
	// Name is the account's name when the token was issued (informational;
	// access decisions use Subject, the uuid).
	Name string `json:"name,omitempty"`
	// Mechanism is how the session was authenticated.
	Mechanism string `json:"mech,omitempty"`
	// RWUntil (Unix seconds): the session may write until then. Sessions
	// are read-only by default; POST /v1/reauth grants this window for
	// the account's resolved privilege-expiry.
	RWUntil int64 `json:"rw,omitempty"`
	// MinIndex is the Raft index of the account's last write when the
	// session began (its creation, for an account made at first sign-in
	// through an upstream provider). A node that has not applied it yet
	// waits for it before it judges the session by its own copy of the
	// account: the next request may reach another node than the login.
	MinIndex uint64 `json:"mi,omitempty"`
}

// ReadWrite reports whether the session may write at now.
func (c *Claims) ReadWrite(now time.Time) bool { return c.RWUntil > now.Unix() }

func aad(kid string) []byte { return []byte("signing-key:" + kid) }

// KeyAAD is the aad a signing key's private half is sealed with.
func KeyAAD(kid string) []byte { return aad(kid) }

// GenerateKey makes a new ES256 signing key and seals its private half.
func GenerateKey(s *seal.Sealer, kid string, now time.Time) (fsm.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fsm.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	return sealKey(s, kid, priv, &priv.PublicKey, jose.ES256, now)
}

// RSABits is the size of legacy RS256 keys: 3072 bits is what it takes to
// match the strength of ES256 (faq-tls-pkce-ecdsa-replication.txt).
const RSABits = 3072

// GenerateRSAKey makes a new RS256 signing key (for OAuth2 clients with
// legacy crypto enabled) and seals its private half.
func GenerateRSAKey(s *seal.Sealer, kid string, now time.Time) (fsm.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, RSABits)
	if err != nil {
		return fsm.SigningKey{}, fmt.Errorf("generate RSA signing key: %w", err)
	}
	return sealKey(s, kid, priv, &priv.PublicKey, jose.RS256, now)
}

// sealKey seals a new private key (PKCS#8) and records its public JWK.
func sealKey(s *seal.Sealer, kid string, priv, pub any, alg jose.SignatureAlgorithm, now time.Time) (fsm.SigningKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fsm.SigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	sealed, err := s.Seal(der, aad(kid))
	clear(der)
	if err != nil {
		return fsm.SigningKey{}, err
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: string(alg), Use: "sig"})
	if err != nil {
		return fsm.SigningKey{}, err
	}
	return fsm.SigningKey{KID: kid, Alg: string(alg), PublicJWK: jwk, SealedPrivate: sealed, Created: now.UnixMilli()}, nil
}

// ActiveKey is the key of alg that signs now: the newest by creation
// time. The list order is not used: a restarted node rebuilds its key list
// from the store, whose order is the kids', not the log's.
func ActiveKey(keys []fsm.SigningKey, alg string) (fsm.SigningKey, bool) {
	return fsm.NewestKey(keys, alg)
}

// Keys is where the signer finds the current keys (the FSM).
type Keys interface {
	SigningKeys() []fsm.SigningKey
}

// Signer signs with the newest key and verifies with any known key.
type Signer struct {
	keys   Keys
	sealer *seal.Sealer
	issuer string

	mu      sync.Mutex
	private map[string]crypto.Signer
	public  map[string]*ecdsa.PublicKey

	// verified remembers tokens whose signature checked out: an ES256
	// verification costs more than the rest of a typical API request.
	// Expiry is still checked on every use.
	verifiedMu sync.Mutex
	verified   map[string]*Claims
}

// maxVerified bounds the cache; when full it starts over.
const maxVerified = 10000

// NewSigner makes a Signer for issuer.
func NewSigner(keys Keys, sealer *seal.Sealer, issuer string) *Signer {
	return &Signer{keys: keys, sealer: sealer, issuer: issuer,
		private: map[string]crypto.Signer{}, public: map[string]*ecdsa.PublicKey{}}
}

// ErrNoKey means the cluster has not been initialised yet.
var ErrNoKey = errors.New("no signing key yet: the cluster is not initialised")

// ErrNoKeyOfAlg: no signing key of the asked algorithm exists yet.
var ErrNoKeyOfAlg = errors.New("no signing key of this algorithm yet")

// Active returns the key that signs with alg ("ES256" or "RS256") now,
// opened from its sealed private half (and kept open in memory).
func (s *Signer) Active(alg string) (string, crypto.Signer, error) {
	ks := s.keys.SigningKeys()
	if len(ks) == 0 {
		return "", nil, ErrNoKey
	}
	k, ok := ActiveKey(ks, alg)
	if !ok {
		return "", nil, fmt.Errorf("%w: %s", ErrNoKeyOfAlg, alg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.private[k.KID]; ok {
		return k.KID, p, nil
	}
	der, err := s.sealer.Open(k.SealedPrivate, aad(k.KID))
	if err != nil {
		return "", nil, fmt.Errorf("signing key %s: %w", k.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return "", nil, fmt.Errorf("signing key %s: %w", k.KID, err)
	}
	p, ok := parsed.(crypto.Signer)
	if !ok {
		return "", nil, fmt.Errorf("signing key %s cannot sign", k.KID)
	}
	switch p.(type) {
	case *ecdsa.PrivateKey:
		if alg != string(jose.ES256) {
			return "", nil, fmt.Errorf("signing key %s is ECDSA, not %s", k.KID, alg)
		}
	case *rsa.PrivateKey:
		if alg != string(jose.RS256) {
			return "", nil, fmt.Errorf("signing key %s is RSA, not %s", k.KID, alg)
		}
	default:
		return "", nil, fmt.Errorf("signing key %s has an unsupported type", k.KID)
	}
	s.private[k.KID] = p
	return k.KID, p, nil
}

func (s *Signer) publicKey(kid string) (*ecdsa.PublicKey, error) {
	s.mu.Lock()
	if p, ok := s.public[kid]; ok {
		s.mu.Unlock()
		return p, nil
	}
	s.mu.Unlock()
	for _, k := range s.keys.SigningKeys() {
		if k.KID != kid || k.Alg != string(jose.ES256) {
			continue
		}
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			return nil, fmt.Errorf("public key %s: %w", kid, err)
		}
		p, ok := jwk.Key.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key %s is not ECDSA", kid)
		}
		s.mu.Lock()
		s.public[kid] = p
		s.mu.Unlock()
		return p, nil
	}
	return nil, fmt.Errorf("unknown key id %q", kid)
}

// Sign issues a token; Issuer is filled in.
func (s *Signer) Sign(c Claims) (string, error) {
	kid, priv, err := s.Active(string(jose.ES256))
	if err != nil {
		return "", err
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, opts)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	c.Issuer = s.issuer
	return jwt.Signed(signer).Claims(c).Serialize()
}

// ErrInvalid is returned for any token that does not verify; the reason is
// wrapped for logs, the client sees only that the token is not valid.
var ErrInvalid = errors.New("the session token is not valid")

// Verify checks signature, issuer and expiry at now.
func (s *Signer) Verify(raw string, now time.Time) (*Claims, error) {
	s.verifiedMu.Lock()
	c, ok := s.verified[raw]
	s.verifiedMu.Unlock()
	if ok {
		if err := c.ValidateWithLeeway(jwt.Expected{Issuer: s.issuer, Time: now}, 30*time.Second); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		cp := *c
		return &cp, nil
	}
	c, err := s.verify(raw, now)
	if err != nil {
		return nil, err
	}
	s.verifiedMu.Lock()
	if s.verified == nil || len(s.verified) >= maxVerified {
		s.verified = map[string]*Claims{}
	}
	s.verified[raw] = c
	s.verifiedMu.Unlock()
	cp := *c
	return &cp, nil
}

func (s *Signer) verify(raw string, now time.Time) (*Claims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(tok.Headers) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrInvalid, len(tok.Headers))
	}
	// The OAuth2 provider signs ID and access tokens with the same keys.
	// A session token is typ JWT with no audience; an access token
	// (at+jwt) or an ID token (which names its client) is not a session.
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); typ != "JWT" {
		return nil, fmt.Errorf("%w: token type %q is not a session", ErrInvalid, typ)
	}
	pub, err := s.publicKey(tok.Headers[0].KeyID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var c Claims
	if err := tok.Claims(pub, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: s.issuer, Time: now}, 30*time.Second); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Subject == "" || c.SessionID == "" {
		return nil, fmt.Errorf("%w: no subject or session", ErrInvalid)
	}
	if len(c.Audience) > 0 {
		return nil, fmt.Errorf("%w: a token with an audience is not a session", ErrInvalid)
	}
	return &c, nil
}

// JWKS returns the public keys.
func (s *Signer) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range s.keys.SigningKeys() {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err == nil {
			set.Keys = append(set.Keys, jwk)
		}
	}
	return set
}
