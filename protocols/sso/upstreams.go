package sso

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/ldapup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/samlsp"
)

// oidcClient is the part of oidcup.Provider the login uses.
type oidcClient interface {
	AuthCodeURL(state, nonce, pkceVerifier string) string
	Exchange(ctx context.Context, code, pkceVerifier, nonce string) (upstream.Identity, error)
}

// samlClient is the part of samlsp.SP the login uses.
type samlClient interface {
	AuthnRequestURL(relayState string) (redirectURL, requestID string, err error)
	ParseResponse(samlResponse, expectedRequestID string, now time.Time) (upstream.Identity, samlsp.Assertion, error)
	Metadata() ([]byte, error)
}

// connCache keeps one client per provider version: OIDC discovery and
// SAML key parsing happen once per node, not per login. A provider update
// (new Version) replaces the client.
type connCache struct {
	mu sync.Mutex
	m  map[string]cachedConn
	// Test hooks: nil uses the real libraries.
	newOIDC func(ctx context.Context, p *entry.SSOProvider) (oidcClient, error)
	newSAML func(p *entry.SSOProvider) (samlClient, error)
	ldap    func(ctx context.Context, p *entry.SSOProvider, user, pass string) (upstream.Identity, error)
}

type cachedConn struct {
	version uint64
	c       any
}

func (cc *connCache) get(p *entry.SSOProvider) (any, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.m[p.UUID]
	if !ok || e.version != p.Version {
		return nil, false
	}
	return e.c, true
}

func (cc *connCache) put(p *entry.SSOProvider, c any) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil {
		cc.m = map[string]cachedConn{}
	}
	cc.m[p.UUID] = cachedConn{version: p.Version, c: c}
}

func (h *Handler) oidcClient(ctx context.Context, p *entry.SSOProvider) (oidcClient, error) {
	if c, ok := h.conns.get(p); ok {
		return c.(oidcClient), nil
	}
	var c oidcClient
	var err error
	if h.conns.newOIDC != nil {
		c, err = h.conns.newOIDC(ctx, p)
	} else {
		c, err = h.realOIDC(ctx, p)
	}
	if err != nil {
		return nil, err
	}
	h.conns.put(p, c)
	return c, nil
}

func (h *Handler) realOIDC(ctx context.Context, p *entry.SSOProvider) (oidcClient, error) {
	cfg, err := h.Dir.OIDCConfig(p)
	if err != nil {
		return nil, err
	}
	if p.Type == entry.SSOTypeOAuth2 {
		return oidcup.NewOAuth2(cfg)
	}
	// Discovery must not hang a login: bounded, and not tied to the
	// request that happened to trigger it (the client is cached).
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	return oidcup.NewOIDC(dctx, cfg)
}

func (h *Handler) samlSP(p *entry.SSOProvider) (samlClient, error) {
	if c, ok := h.conns.get(p); ok {
		return c.(samlClient), nil
	}
	var c samlClient
	var err error
	if h.conns.newSAML != nil {
		c, err = h.conns.newSAML(p)
	} else {
		c, err = h.realSAML(p)
	}
	if err != nil {
		return nil, err
	}
	h.conns.put(p, c)
	return c, nil
}

func (h *Handler) realSAML(p *entry.SSOProvider) (samlClient, error) {
	cfg, err := h.Dir.SAMLConfig(p)
	if err != nil {
		return nil, err
	}
	return samlsp.New(cfg)
}

// ldapAuthenticate binds as the user; the bind password is opened for
// each login (LDAP keeps no connection between logins).
func (h *Handler) ldapAuthenticate(ctx context.Context, p *entry.SSOProvider, user, pass string) (upstream.Identity, error) {
	if h.conns.ldap != nil {
		return h.conns.ldap(ctx, p, user, pass)
	}
	cfg, err := h.Dir.LDAPConfig(p)
	if err != nil {
		return upstream.Identity{}, err
	}
	return ldapup.Authenticate(ctx, cfg, user, pass)
}
