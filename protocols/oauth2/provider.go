package oauth2

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	idmoauth2 "github.com/gatehouse-idm/gatehouse/idm/oauth2"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/logging"
	"github.com/gatehouse-idm/gatehouse/ops/metrics"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Peers is how a node reaches another node's API over the cluster channel
// (cluster.Node); nil on a single node.
type Peers interface {
	PeerRPCAddr(nodeID string) (string, bool)
	RPCClient() *http.Client
}

// Provider is one node's OAuth2/OIDC provider.
type Provider struct {
	Issuer  string
	NodeID  string
	State   *fsm.FSM
	Signer  *token.Signer
	Sealer  *seal.Sealer
	Secrets *idmoauth2.Secrets
	Writer  *idmoauth2.Writer
	Peers   Peers
	// Session returns the browser's verified login session (cookie), or an
	// error (protocols/api.Server.CheckSession).
	Session func(r *http.Request) (idm.Actor, *token.Claims, error)
	// Negotiate, when Kerberos is on, logs the browser in from an
	// Authorization: Negotiate header: a session token, its expiry and the
	// mutual-authentication token (protocols/api.Server.NegotiateSession).
	// Nil when Kerberos is off.
	Negotiate func(r *http.Request) (tok string, c *token.Claims, cookie *http.Cookie, mutual string, err error)
	// LoginPage answers with the login page (protocols/ui.Handler.LoginPage).
	LoginPage func(w http.ResponseWriter, status int, next string)
	Log       *slog.Logger
	// Consistent returns an index this node must apply before a read is
	// up to date (cluster.Node.ConsistentIndex); nil on a single node. The
	// device page uses it when a user code is not found: the code may have
	// been created through another node a moment ago.
	Consistent func(ctx context.Context) (uint64, error)
	// Audit receives one event per grant decision; Metrics counts them.
	// Both may be nil.
	Audit   *logging.Audit
	Metrics *metrics.OAuth2
	Now     func() time.Time

	jwt    jwtSigner
	codes  codeStore
	device deviceLimits
	opH    http.Handler
}

// MaxRequestBody bounds every request body of the provider's endpoints
// (op would read up to 10 MB of form).
const MaxRequestBody = 64 << 10

func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBody)
		}
		h.ServeHTTP(w, r)
	})
}

// endpoint paths.
const (
	PathAuthorize  = "/oauth2/authorize"
	PathToken      = "/oauth2/token"
	PathUserinfo   = "/oauth2/userinfo"
	PathJWKS       = "/oauth2/jwks"
	PathIntrospect = "/oauth2/introspect"
	PathRevoke     = "/oauth2/revoke"
	PathEndSession = "/oauth2/end_session"
	PathDevice     = "/oauth2/device"
	PathUIAuth     = "/ui/oauth2/authorize"
	PathUIConsent  = "/ui/oauth2/consent"
	PathUIDevice   = "/ui/oauth2/device"
)

// Routes are the provider's patterns for http.ServeMux (srv.Extra).
func (p *Provider) Routes() map[string]http.Handler {
	opH := op.RegisterServer(&server{p: p}, op.Endpoints{
		Token:               op.NewEndpoint(PathToken),
		Introspection:       op.NewEndpoint(PathIntrospect),
		Userinfo:            op.NewEndpoint(PathUserinfo),
		Revocation:          op.NewEndpoint(PathRevoke),
		EndSession:          op.NewEndpoint(PathEndSession),
		DeviceAuthorization: op.NewEndpoint(PathDevice),
	})
	p.opH = limitBody(withRemote(opH))
	return map[string]http.Handler{
		"/.well-known/openid-configuration":       http.HandlerFunc(p.discovery),
		"/.well-known/oauth-authorization-server": http.HandlerFunc(p.discovery),
		"GET " + PathJWKS:                         http.HandlerFunc(p.keys),
		PathAuthorize:                             http.HandlerFunc(p.authorize),
		PathToken:                                 p.forwardCodes(p.opH),
		"/oauth2/":                                p.opH,
		PathEndSession:                            p.confirmLogout(p.opH),
		PathUIAuth:                                http.HandlerFunc(p.uiAuthorize),
		"POST " + PathUIConsent:                   http.HandlerFunc(p.uiConsent),
		PathUIDevice:                              http.HandlerFunc(p.uiDevice),
	}
}

// CrossOriginBypass are the patterns a browser app on another origin may
// POST to: they authenticate the client (or PKCE), never by cookie.
var CrossOriginBypass = []string{"POST " + PathToken, "POST " + PathIntrospect, "POST " + PathRevoke, "POST " + PathDevice, "POST " + PathUserinfo}

// client is an oauth2_client entry (or a service account acting through
// client credentials) as op sees it.
type client struct {
	e *entry.Entry
}

func (c *client) public() bool {
	return c.e.Class == entry.OAuth2Client && c.e.OAuth2 != nil && c.e.OAuth2.Public
}
func (c *client) GetID() string { return c.e.Name }
func (c *client) RedirectURIs() []string {
	if c.e.OAuth2 == nil {
		return nil
	}
	return c.e.OAuth2.RedirectURIs
}
func (c *client) PostLogoutRedirectURIs() []string { return c.RedirectURIs() }
func (c *client) ApplicationType() op.ApplicationType {
	if c.public() {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.public() {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	if c.e.Class == entry.ServiceAccount {
		return []oidc.GrantType{oidc.GrantTypeClientCredentials}
	}
	g := []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode}
	if !c.public() {
		g = append(g, oidc.GrantTypeClientCredentials)
	}
	return g
}
func (c *client) LoginURL(id string) string            { return PathUIAuth + "?id=" + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return IDTokenLife }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(string) bool           { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// lookupClient finds an oauth2 client by its id (the entry's name).
func (p *Provider) lookupClient(id string) (*entry.Entry, bool) {
	e, ok := p.State.Entry(id)
	if !ok || e.Name != id || e.Class != entry.OAuth2Client || e.OAuth2 == nil {
		return nil, false
	}
	return e, true
}

// verifyClient authenticates a client: a basic client by its secret, a
// public client by its id alone, a service account by its password.
// A failure is invalid_client with status 401 (RFC 6749 §5.2, RFC 7662 §2.3).
func (p *Provider) verifyClient(ctx context.Context, id, secret string) (*client, error) {
	bad := op.NewStatusError(oidc.ErrInvalidClient().WithDescription("unknown client or wrong secret"), http.StatusUnauthorized)
	e, ok := p.State.Entry(id)
	if !ok || e.Name != id {
		return nil, bad
	}
	switch e.Class {
	case entry.OAuth2Client:
		if e.OAuth2 == nil {
			break
		}
		if e.OAuth2.Public {
			return &client{e: e}, nil
		}
		if p.Secrets.CheckClient(e, secret) {
			return &client{e: e}, nil
		}
	case entry.ServiceAccount:
		good, err := p.Secrets.CheckService(ctx, e, secret)
		if err != nil {
			return nil, oidc.ErrServerError().WithDescription("the secret could not be checked now; retry")
		}
		if good {
			return &client{e: e}, nil
		}
	}
	return nil, bad
}

// userClaims are the identity claims of a person grant.
func (p *Provider) userClaims(g *grant) map[string]any {
	if g.person == nil || g.client == nil {
		return nil
	}
	return idmoauth2.Claims(p.State, g.client, g.person, g.scopes)
}

// mappedClaims are the claim-map claims alone (access tokens carry them).
func (p *Provider) mappedClaims(g *grant) map[string]any {
	all := idmoauth2.Claims(p.State, g.client, g.person, nil)
	return all
}

func halfHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	iss := p.Issuer
	doc := map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + PathAuthorize,
		"token_endpoint":                                iss + PathToken,
		"userinfo_endpoint":                             iss + PathUserinfo,
		"jwks_uri":                                      iss + PathJWKS,
		"introspection_endpoint":                        iss + PathIntrospect,
		"revocation_endpoint":                           iss + PathRevoke,
		"end_session_endpoint":                          iss + PathEndSession,
		"device_authorization_endpoint":                 iss + PathDevice,
		"scopes_supported":                              idmoauth2.UserScopes,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query", "fragment"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token", "client_credentials", string(oidc.GrantTypeDeviceCode)},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{"ES256", "RS256"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":              []string{"S256"},
		"prompt_values_supported":                       []string{"none", "login", "consent", "select_account"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "at_hash", "c_hash",
			"preferred_username", "name", "email", "email_verified", "groups"},
		"request_parameter_supported": false,
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) keys(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=60")
	writeJSON(w, http.StatusOK, p.JWKS())
}
