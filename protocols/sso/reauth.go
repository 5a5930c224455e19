package sso

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

// Reauthentication of a signed-in session through an upstream provider
// (docs/sso-login.md): sessions made by an SSO login cannot repeat their
// proof through /v1/auth, so POST /v1/reauth sends the browser to
// /ui/sso/reauth, which lists the account's linked providers; each starts
// /ui/sso/login/{id}?reauth=1, and the end of that login opens the write
// window of the same session (auth.Engine.ReauthExternal) instead of
// making a new one. Only an identity already linked to the session's own
// account confirms it: nothing is linked or created on the way.

// cookieSession is the session cookie of the web pages (api.CookieSession).
const cookieSession = "__Host-gatehouse-session"

const reasonReauth = "reauth"

// sessionClaims finds and verifies the request's session (Bearer, else
// the session cookie); when SessionAccount is wired it also runs the
// API's full session check (account exists, not reset since, the node
// has caught up with it).
func (h *Handler) sessionClaims(r *http.Request) (*token.Claims, bool) {
	raw := ""
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		raw = strings.TrimSpace(b)
	} else if c, err := r.Cookie(cookieSession); err == nil {
		raw = c.Value
	}
	if raw == "" {
		return nil, false
	}
	c, err := h.Issue.VerifySession(raw)
	if err != nil {
		return nil, false
	}
	if h.SessionAccount != nil {
		if uuid, ok := h.SessionAccount(r); !ok || uuid != c.Subject {
			return nil, false
		}
	}
	return c, true
}

// beginReauth fills the flow of /ui/sso/login/{id}?reauth=1: the session
// being reauthenticated travels sealed in the flow (the SAML answer is a
// cross-site POST that the Lax session cookie does not follow). It
// answers the refusal page itself and reports false on a refusal.
func (h *Handler) beginReauth(w http.ResponseWriter, r *http.Request, p *entry.SSOProvider, f *flow) bool {
	// Same rule as linking: the reauthentication adds write rights to the
	// signed-in session, so another site must not start it.
	if !sameOriginNavigation(r) {
		h.audit(r, p, "", "", "failure", reasonBadRequest+": cross-site reauth")
		h.page(w, http.StatusForbidden, "Confirmation refused", "Confirming your sign-in must be started from this site's pages.", f.Next)
		return false
	}
	c, ok := h.sessionClaims(r)
	if !ok {
		h.page(w, http.StatusUnauthorized, "Sign-in required", "Your session has ended: sign in again.", f.Next)
		return false
	}
	f.Reauth = c
	return true
}

// finishReauth ends a reauthentication at the callback, the ACS or the
// LDAP form: the identity must be linked to the session's account, then
// the same session is re-signed with a write window and set as the
// cookie. It returns the refusal, if any, already audited.
func (h *Handler) finishReauth(w http.ResponseWriter, r *http.Request, p *entry.SSOProvider, claims *token.Claims, ident upstream.Identity, mech string) *refusal {
	// The browser's session, when it still sends one, must be the one the
	// flow began with: a sign-in as someone else meanwhile is not undone.
	if c, ok := h.sessionClaims(r); ok && c.SessionID != claims.SessionID {
		h.audit(r, p, "", mech, "failure", reasonReauth+": another session")
		return refuse(http.StatusConflict, reasonReauth, "Confirmation refused", "You signed in again in the meantime: start the confirmation again.")
	}
	acct, ok := h.Accounts.EntryByExternalID(p.UUID, ident.Subject)
	if !ok || acct.UUID != claims.Subject {
		h.audit(r, p, claims.Name, mech, "failure", reasonReauth+": identity not linked to the session's account")
		h.observe(r, claims.Name, mech)
		return refuse(http.StatusForbidden, reasonReauth, "Confirmation refused",
			"The "+p.Name+" identity you signed in with is not linked to your account "+claims.Name+
				": confirm with an identity linked to it (your account page lists them), or sign out and sign in as that account.")
	}
	if !h.Dir.SSOAllowed(acct) {
		h.audit(r, p, acct.Name, mech, "failure", reasonReauth+": "+reasonSSOOff)
		h.observe(r, acct.Name, mech)
		return refuse(http.StatusForbidden, reasonSSOOff, "Confirmation refused",
			"Single sign-on is turned off for the account "+acct.Name+": sign in with its own credentials, or ask an administrator.")
	}
	tok, exp, err := h.Issue.ReauthExternal(r.Context(), claims, acct, mech, auth.IssueCookie)
	if err != nil {
		h.audit(r, p, acct.Name, mech, "failure", reasonReauth+": "+err.Error())
		switch {
		case errors.Is(err, auth.ErrReauthSession):
			return refuse(http.StatusUnauthorized, reasonReauth, "Sign-in required", "Your session has ended: sign in again.")
		case errors.Is(err, auth.ErrDisabled):
			return refuse(http.StatusForbidden, reasonDisabled, "Confirmation refused", "The account "+acct.Name+" is disabled: ask an administrator.")
		case errors.Is(err, auth.ErrReauthWeaker), errors.Is(err, auth.ErrBelowPolicy), errors.Is(err, auth.ErrReauthAccount):
			return refuse(http.StatusForbidden, reasonBelowPolicy, "Confirmation refused", "Confirmation refused: "+err.Error()+".")
		}
		h.log().Error("sso: reauthenticate", "provider", p.Name, "account", acct.Name, "error", err)
		return refuse(http.StatusInternalServerError, reasonAccount, "Confirmation failed", "Account processing failed")
	}
	h.audit(r, p, acct.Name, mech, "success", reasonReauth)
	h.log().Info("sso: reauthentication", "provider", p.Name, "account", acct.Name, "session", claims.SessionID, "remote", r.RemoteAddr)
	http.SetCookie(w, h.SessionCookie(tok, exp))
	return nil
}

// reauthOption is one way to confirm on the reauth page.
type reauthOption struct {
	Name string
	// Href starts a redirect provider's reauth; LDAP is a form instead.
	Href string
	// LDAP is the form action of an LDAP provider.
	LDAP string
}

// reauthPage answers GET /ui/sso/reauth?next=...: the signed-in account's
// linked and enabled providers, each a way to confirm the sign-in.
func (h *Handler) reauthPage(w http.ResponseWriter, r *http.Request) {
	h.nodeHeader(w)
	next := safeNext(r.URL.Query().Get("next"))
	c, ok := h.sessionClaims(r)
	if !ok {
		h.page(w, http.StatusUnauthorized, "Sign-in required", "Confirming your sign-in needs you to be signed in: sign in first.", next)
		return
	}
	acct, ok := h.Accounts.Entry(c.Subject)
	if !ok {
		h.page(w, http.StatusUnauthorized, "Sign-in required", "Your session has ended: sign in again.", next)
		return
	}
	q := url.Values{"reauth": {"1"}}
	if next != "" {
		q.Set("next", next)
	}
	var opts []reauthOption
	seen := map[string]bool{}
	for _, x := range acct.ExternalIDs {
		p, ok := h.Dir.Provider(x.Provider)
		if !ok || !p.Enabled || seen[p.UUID] {
			continue
		}
		seen[p.UUID] = true
		o := reauthOption{Name: p.Name}
		if p.Type == entry.SSOTypeLDAP {
			o.LDAP = "/ui/sso/reauth/ldap/" + url.PathEscape(p.UUID)
		} else {
			o.Href = "/ui/sso/login/" + url.PathEscape(p.UUID) + "?" + q.Encode()
		}
		opts = append(opts, o)
	}
	back := next
	if back == "" {
		back = DefaultNext
	}
	h.render(w, reauthTmpl, http.StatusOK, struct {
		Account, Next, Back string
		Options             []reauthOption
	}{acct.Name, next, back, opts})
}
