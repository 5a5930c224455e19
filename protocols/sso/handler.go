package sso

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/ldapup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/samlsp"
)

// Resolution is what idm/sso decided for an upstream identity.
type Resolution struct {
	// Account is the person the identity belongs to (found by link,
	// linked by verified e-mail, or created just now).
	Account *entry.Entry
	// Created: the account was created by this login (JIT).
	Created bool
	// Pending: the account exists but waits for an administrator to
	// enable it (auto-enable off).
	Pending bool
	// Note is a message for the log and audit (a username collision
	// resolved, an identity linked by e-mail).
	Note string
}

// Directory is what the login needs of idm/sso: the replicated providers,
// their sealed secrets, and the account decisions.
type Directory interface {
	// Provider returns the provider with this uuid (enabled or not).
	Provider(id string) (*entry.SSOProvider, bool)
	// Providers lists every provider.
	Providers() []*entry.SSOProvider
	// OIDCConfig, LDAPConfig and SAMLConfig are the libraries'
	// configurations of p, secrets opened from the seal.
	OIDCConfig(p *entry.SSOProvider) (oidcup.Config, error)
	LDAPConfig(p *entry.SSOProvider) (ldapup.Config, error)
	SAMLConfig(p *entry.SSOProvider) (samlsp.Config, error)
	// Resolve maps an identity to an account: the linked one, else one
	// linked now by verified e-mail, else a new one (JIT); linkTo, when
	// set, is the uuid of the signed-in account the identity is linked to.
	// A refusal is an *idm.Error whose Code becomes the audit reason.
	Resolve(ctx context.Context, p *entry.SSOProvider, id upstream.Identity, linkTo string) (Resolution, error)
	// SSOAllowed reports whether acct may log in through SSO (global
	// settings and the account's override).
	SSOAllowed(acct *entry.Entry) bool
}

// Issuer issues sessions and checks the local second factor of LDAP
// logins (auth.Engine).
type Issuer interface {
	IssueExternal(ctx context.Context, acct *entry.Entry, mech string, issue string) (string, time.Time, error)
	// CheckTOTP is the stepped login's TOTP factor; nil when the code
	// passed, auth.ErrTOTPLocked when the soft lock holds.
	CheckTOTP(ctx context.Context, accountUUID string, code auth.Code) error
	// ReauthExternal opens the write window of the session claims after
	// an upstream proof for acct (reauth.go).
	ReauthExternal(ctx context.Context, claims *token.Claims, acct *entry.Entry, mech string, issue string) (string, time.Time, error)
	// VerifySession checks a session token: signed, live, not revoked.
	VerifySession(raw string) (*token.Claims, error)
}

// Guard is the cluster-wide claims and soft lock (authguard.Guard).
type Guard interface {
	ClaimOnce(ctx context.Context, key string, ttl time.Duration) bool
	Begin(key string, resetBefore int64) (release func(), locked bool)
	Fail(ctx context.Context, key string)
	Succeed(key string)
}

// Auditor records every SSO login outcome (logging.Audit.SSOLogin).
type Auditor interface {
	SSOLogin(provider, providerType, account, mechanism, result, reason, node, remote string)
}

// Handler serves the SSO login routes of one node.
type Handler struct {
	Dir Directory
	// Accounts reads accounts from the replica (fsm.FSM.Entry).
	Accounts interface {
		Entry(id string) (*entry.Entry, bool)
		// EntryByExternalID is the account an upstream identity is linked to.
		EntryByExternalID(provider, subject string) (*entry.Entry, bool)
	}
	Issue  Issuer
	Guard  Guard
	Sealer *seal.Sealer
	Audit  Auditor
	// Observe counts refusals that never reach Issue (metrics); may be nil.
	Observe func(account, mechanism, result, remote string)
	// Origin is the public URL of the cluster: callback, ACS and metadata
	// addresses are made from it (the upstream registers them).
	Origin string
	NodeID string
	// SessionCookie builds the session cookie (api.Server.SessionCookie).
	SessionCookie func(tok string, exp time.Time) *http.Cookie
	// SessionAccount names the account of the request's session (for
	// ?link=1); ok is false without a valid session.
	SessionAccount func(r *http.Request) (uuid string, ok bool)
	Log            *slog.Logger
	Now            func() time.Time

	conns connCache
}

// Routes lists the patterns of http.ServeMux this handler answers. The
// SAML ACS is a cross-site POST and needs a CrossOriginProtection bypass.
func (h *Handler) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /v1/sso/login-options":      http.HandlerFunc(h.loginOptions),
		"GET /ui/sso/login/{id}":         http.HandlerFunc(h.begin),
		"GET /ui/sso/callback/{id}":      http.HandlerFunc(h.callback),
		"GET /ui/sso/saml/{id}/metadata": http.HandlerFunc(h.samlMetadata),
		"POST /ui/sso/saml/{id}/acs":     http.HandlerFunc(h.samlACS),
		"POST /v1/sso/ldap/{id}":         http.HandlerFunc(h.ldapLogin),
		"POST /v1/sso/ldap/{id}/mfa":     http.HandlerFunc(h.ldapMFA),
		"GET /ui/sso/reauth":             http.HandlerFunc(h.reauthPage),
		"POST /ui/sso/reauth/ldap/{id}":  http.HandlerFunc(h.ldapReauth),
	}
}

// ACSPattern is the route that must accept cross-site POSTs.
const ACSPattern = "POST /ui/sso/saml/{id}/acs"

// CallbackURL, ACSURL and MetadataURL are the addresses of provider id an
// administrator registers at the upstream.
func CallbackURL(origin, id string) string {
	return strings.TrimSuffix(origin, "/") + "/ui/sso/callback/" + id
}
func ACSURL(origin, id string) string {
	return strings.TrimSuffix(origin, "/") + "/ui/sso/saml/" + id + "/acs"
}
func MetadataURL(origin, id string) string {
	return strings.TrimSuffix(origin, "/") + "/ui/sso/saml/" + id + "/metadata"
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// provider finds an enabled provider of one of the types; the error is a
// user-facing 404 in the seed's words.
func (h *Handler) provider(id string, types ...string) (*entry.SSOProvider, error) {
	p, ok := h.Dir.Provider(id)
	if !ok || !p.Enabled {
		return nil, errNotFound
	}
	for _, t := range types {
		if p.Type == t {
			return p, nil
		}
	}
	return nil, errNotFound
}

var errNotFound = errors.New("SSO provider not found")

// loginOption is one button of the login page; nothing secret.
type loginOption struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// loginOptions answers GET /v1/sso/login-options (public): the enabled
// providers and whether local logins are on.
func (h *Handler) loginOptions(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Providers []loginOption `json:"providers"`
	}{Providers: []loginOption{}}
	for _, p := range h.Dir.Providers() {
		if p.Enabled {
			out.Providers = append(out.Providers, loginOption{UUID: p.UUID, Name: p.Name, Type: p.Type})
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// begin answers GET /ui/sso/login/{id}: a sealed flow in the cookie, and
// a redirect to the provider (OIDC/OAuth2 authorization, SAML
// AuthnRequest). ?link=1 with a session links the identity to the
// signed-in account instead of logging in; ?reauth=1 with a session
// confirms that session instead (reauth.go).
func (h *Handler) begin(w http.ResponseWriter, r *http.Request) {
	h.nodeHeader(w)
	id := r.PathValue("id")
	p, err := h.provider(id, entry.SSOTypeOIDC, entry.SSOTypeOAuth2, entry.SSOTypeSAML)
	if err != nil {
		h.page(w, http.StatusNotFound, "Sign-in failed", err.Error(), "")
		return
	}
	q := r.URL.Query()
	f := flow{ID: randomID(), Provider: p.UUID, Next: safeNext(q.Get("next")), Expires: h.now().Add(FlowTTL).Unix()}
	if q.Get("link") == "1" {
		// Linking adds a way into the signed-in account, so another site
		// must not start it: with the victim signed in here and the
		// attacker's session planted at the IdP (login CSRF there), the
		// attacker's identity would be linked to the victim's account.
		// Browsers name the initiator in Sec-Fetch-Site; a link started
		// from our account page is same-origin, a typed URL "none".
		if !sameOriginNavigation(r) {
			h.audit(r, p, "", "", "failure", reasonBadRequest+": cross-site link")
			h.page(w, http.StatusForbidden, "Linking refused", "Linking another provider must be started from your account page.", f.Next)
			return
		}
		acct, ok := "", false
		if h.SessionAccount != nil {
			acct, ok = h.SessionAccount(r)
		}
		if !ok {
			h.page(w, http.StatusUnauthorized, "Sign-in required", "Linking another provider needs you to be signed in: sign in first, then link from your account page.", f.Next)
			return
		}
		f.Link = acct
	} else if q.Get("reauth") == "1" && !h.beginReauth(w, r, p, &f) {
		return
	}
	var dest string
	switch p.Type {
	case entry.SSOTypeSAML:
		sp, err := h.samlSP(p)
		if err != nil {
			h.providerFailure(w, r, p, "", "saml_config", err)
			return
		}
		dest, f.RequestID, err = sp.AuthnRequestURL(f.ID)
		if err != nil {
			h.providerFailure(w, r, p, "", "saml_request", err)
			return
		}
	default:
		c, err := h.oidcClient(r.Context(), p)
		if err != nil {
			h.providerFailure(w, r, p, "", "provider_unreachable", err)
			return
		}
		f.Nonce, f.Verifier = randomID(), pkceVerifier()
		dest = c.AuthCodeURL(f.ID, f.Nonce, f.Verifier)
	}
	sealed, err := sealJSON(h.Sealer, f, stateAAD)
	if err != nil {
		h.log().Error("sso: seal the flow state", "error", err)
		h.page(w, http.StatusInternalServerError, "Sign-in failed", "The sign-in could not be started; try again.", f.Next)
		return
	}
	http.SetCookie(w, flowCookie(sealed, p.Type == entry.SSOTypeSAML))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, dest, http.StatusFound)
}

// nodeHeader names the answering node: behind a load balancer the
// browser (and the tests) can tell which node took each leg.
func (h *Handler) nodeHeader(w http.ResponseWriter) {
	if h.NodeID != "" {
		w.Header().Set("X-Gatehouse-Node", h.NodeID)
	}
}

// sameOriginNavigation reports whether the browser says the request was
// started by this origin or by the user (typed, bookmark). Without the
// header (very old browsers, non-browser clients) it is allowed, as
// net/http's CrossOriginProtection does: only a browser can be made to
// send a victim's cookies, and every current one sends it.
func sameOriginNavigation(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}
