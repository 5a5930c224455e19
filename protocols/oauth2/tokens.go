package oauth2

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Lifetimes (docs/oauth2.md).
const (
	AccessTokenLife = time.Hour
	IDTokenLife     = time.Hour
	CodeLife        = 60 * time.Second
	AuthRequestLife = 30 * time.Minute
	RefreshLife     = 24 * time.Hour
	DeviceLife      = 10 * time.Minute
	DeviceInterval  = 5
)

// ParentClaim names, in an access token issued without offline_access,
// the login session it came from: logging out (or revoking) that session
// kills the token on every node. With offline_access the grant is meant to
// outlive the browser session, so its tokens carry no parent.
const ParentClaim = "gh_psid"

// SessionClaim names the OAuth2 session in our tokens. Deliberately not
// "sid": Gatehouse session tokens are JWTs from the same keys, and the API
// accepts a token with a sid; an RP must never be able to use an access
// or ID token as a Gatehouse session.
const SessionClaim = "gh_sid"

// ErrNoLegacyKey: a legacy-crypto client needs an RS256 key the cluster
// does not hold yet.
var ErrNoLegacyKey = errors.New("this client uses legacy crypto (RS256) but the cluster holds no RS256 signing key yet: an admin must enable legacy crypto again or rotate keys")

// jwtSigner caches one jose.Signer per key and token type: building one
// per grant costs more than the signature.
type jwtSigner struct {
	mu      sync.Mutex
	signers map[string]jose.Signer
	pubMu   sync.RWMutex
	pubs    map[string]jose.JSONWebKey
}

func algFor(c *entry.Entry) string {
	if c != nil && c.OAuth2 != nil && c.OAuth2.LegacyCrypto {
		return string(jose.RS256)
	}
	return string(jose.ES256)
}

// sign signs claims with the active key of alg, typed typ.
func (p *Provider) sign(alg, typ string, claims any) (string, error) {
	kid, priv, err := p.Signer.Active(alg)
	if err != nil {
		if alg == string(jose.RS256) {
			return "", fmt.Errorf("%w (%v)", ErrNoLegacyKey, err)
		}
		return "", err
	}
	s := &p.jwt
	key := kid + "|" + typ
	s.mu.Lock()
	if s.signers == nil {
		s.signers = map[string]jose.Signer{}
	}
	sg, ok := s.signers[key]
	if !ok {
		sg, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
			(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err == nil {
			s.signers[key] = sg
		}
	}
	s.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	return jwt.Signed(sg).Claims(claims).Serialize()
}

// publicKey finds a public key of the cluster by kid.
func (p *Provider) publicKey(kid string) (jose.JSONWebKey, bool) {
	s := &p.jwt
	s.pubMu.RLock()
	k, ok := s.pubs[kid]
	s.pubMu.RUnlock()
	if ok {
		return k, true
	}
	for _, sk := range p.State.SigningKeys() {
		if sk.KID != kid {
			continue
		}
		if err := json.Unmarshal(sk.PublicJWK, &k); err != nil {
			return k, false
		}
		s.pubMu.Lock()
		if s.pubs == nil {
			s.pubs = map[string]jose.JSONWebKey{}
		}
		s.pubs[kid] = k
		s.pubMu.Unlock()
		return k, true
	}
	return k, false
}

// JWKS is every public key in the state (retired ones stay until no token
// they signed can be valid).
func (p *Provider) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range p.State.SigningKeys() {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err == nil {
			if jwk.Algorithm == "" {
				jwk.Algorithm = k.Alg
			}
			if jwk.Use == "" {
				jwk.Use = "sig"
			}
			set.Keys = append(set.Keys, jwk)
		}
	}
	return set
}

// grant is what a token is issued for: a person through a client (code,
// refresh, device), or a client or service account for itself.
type grant struct {
	client   *entry.Entry // nil for a service account acting alone
	clientID string
	subject  string
	scopes   []string
	authTime time.Time
	amr      []string
	session  string // OAuth2 session id (refresh family); "" for client credentials
	parent   string // the login session (code grants without offline_access)
	limit    time.Time
	nonce    string
	person   *entry.Entry
}

// AccessClaims are the claims of an RFC 9068 access token.
type AccessClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	AuthTime int64  `json:"auth_time,omitempty"`
	Session  string `json:"gh_sid,omitempty"`
	Parent   string `json:"gh_psid,omitempty"`
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// accessToken issues the access token of g; its life is capped by g.limit.
func (p *Provider) accessToken(g *grant, now time.Time) (string, time.Duration, error) {
	exp := now.Add(AccessTokenLife)
	if !g.limit.IsZero() && g.limit.Before(exp) {
		exp = g.limit
	}
	c := AccessClaims{Claims: jwt.Claims{Issuer: p.Issuer, Subject: g.subject, Audience: jwt.Audience{g.clientID},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp), ID: newID()},
		ClientID: g.clientID, Scope: strings.Join(g.scopes, " "), Session: g.session, Parent: g.parent}
	if !g.authTime.IsZero() {
		c.AuthTime = g.authTime.Unix()
	}
	var claims any = c
	if g.client != nil && g.person != nil {
		if extra := p.mappedClaims(g); len(extra) > 0 {
			claims = []any{c, extra}
		}
	}
	tok, err := p.signMerged(algFor(g.client), "at+jwt", claims)
	return tok, exp.Sub(now), err
}

// signMerged signs one claims value or a list of them merged.
func (p *Provider) signMerged(alg, typ string, claims any) (string, error) {
	list, ok := claims.([]any)
	if !ok {
		return p.sign(alg, typ, claims)
	}
	merged := map[string]any{}
	for _, part := range list {
		b, err := json.Marshal(part)
		if err != nil {
			return "", err
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // keep exp, iat as integers
		if err := dec.Decode(&m); err != nil {
			return "", err
		}
		for k, v := range m {
			if n, ok := v.(json.Number); ok { // go-jose's encoder writes json.Number as a string
				if i, err := n.Int64(); err == nil {
					v = i
				} else if f, err := n.Float64(); err == nil {
					v = f
				}
			}
			if _, taken := merged[k]; !taken {
				merged[k] = v
			}
		}
	}
	return p.sign(alg, typ, merged)
}

// idToken issues the ID token of g for the access token at and code.
func (p *Provider) idToken(g *grant, at, code string, now time.Time) (string, error) {
	alg := algFor(g.client)
	c := map[string]any{"iss": p.Issuer, "sub": g.subject, "aud": []string{g.clientID}, "azp": g.clientID,
		"iat": now.Unix(), "exp": now.Add(IDTokenLife).Unix()}
	if !g.authTime.IsZero() {
		c["auth_time"] = g.authTime.Unix()
	}
	if len(g.amr) > 0 {
		c["amr"] = g.amr
	}
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	if g.session != "" {
		c[SessionClaim] = g.session
	}
	if at != "" {
		c["at_hash"] = halfHash(at)
	}
	if code != "" {
		c["c_hash"] = halfHash(code)
	}
	for k, v := range p.userClaims(g) {
		if _, taken := c[k]; !taken {
			c[k] = v
		}
	}
	return p.sign(alg, "JWT", c)
}

// verifyAccess checks an access token of ours: signature by a cluster key
// (ES256 or RS256), type at+jwt, issuer, expiry, and that its session was
// not revoked.
func (p *Provider) verifyAccess(raw string, now time.Time) (*AccessClaims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return nil, errors.New("not a signed JWT")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") {
		return nil, errors.New("not an access token")
	}
	k, ok := p.publicKey(h.KeyID)
	if !ok {
		return nil, errors.New("unknown key")
	}
	var c AccessClaims
	if err := tok.Claims(k.Key, &c); err != nil {
		return nil, err
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: p.Issuer, Time: now}, 30*time.Second); err != nil {
		return nil, err
	}
	if c.Session != "" && p.State.IsRevoked(c.Session) {
		return nil, errors.New("the session was revoked")
	}
	if c.Parent != "" && p.State.IsRevoked(c.Parent) {
		return nil, errors.New("the login session it came from was logged out or revoked")
	}
	return &c, nil
}

// refreshToken is the sealed, self-contained refresh token.
type refreshToken struct {
	Family     string   `json:"f"`
	Generation uint64   `json:"g"`
	Account    string   `json:"a"`
	Client     string   `json:"c"`
	Scopes     []string `json:"s"`
	AuthTime   int64    `json:"t"`
	AMR        []string `json:"m,omitempty"`
	Expires    int64    `json:"e"`
}

var aadRefresh = []byte("oauth2-refresh")

func (p *Provider) sealRefresh(r refreshToken) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	s, err := p.Sealer.Seal(b, aadRefresh)
	if err != nil {
		return "", err
	}
	return "ghr." + base64.RawURLEncoding.EncodeToString(s), nil
}

func (p *Provider) openRefresh(raw string) (refreshToken, error) {
	var r refreshToken
	rest, ok := strings.CutPrefix(raw, "ghr.")
	if !ok || len(rest) > 8192 {
		return r, errors.New("not a refresh token")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return r, errors.New("not a refresh token")
	}
	plain, err := p.Sealer.Open(b, aadRefresh)
	if err != nil {
		return r, errors.New("not a refresh token of this cluster")
	}
	if err := json.Unmarshal(plain, &r); err != nil {
		return r, err
	}
	return r, nil
}

// familyUse is the Raft body for using r.
func (r refreshToken) use() fsm.OAuth2Refresh {
	return fsm.OAuth2Refresh{Family: r.Family, Generation: r.Generation, Account: r.Account, Client: r.Client, Expires: r.Expires}
}
