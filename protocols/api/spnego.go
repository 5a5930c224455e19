package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/spnego"
)

// SPNEGODeps are the Kerberos login's collaborators, embedded in Server.
type SPNEGODeps struct {
	// SPNEGO verifies Negotiate tokens; nil means Kerberos is off.
	SPNEGO *spnego.Acceptor
	// MapNameRealms are the realms whose principal name@REALM maps to the
	// person named name when no person lists the principal.
	MapNameRealms []string
}

// Error codes of the Kerberos login beyond spnego's reasons.
const (
	codeNegotiate   = "negotiate"
	codeUnmapped    = "krb_unmapped"
	codeDisabled    = "krb_disabled"
	codeBelowPolicy = "krb_below_policy"
)

func (s *Server) routesSPNEGO(route routeFunc) {
	route("GET /v1/auth/spnego", public, s.spnegoLogin)
}

// spnegoBody is a successful Kerberos login; Token is left out when the
// session went into the cookie.
type spnegoBody struct {
	Token   string    `json:"token,omitempty"`
	Expires time.Time `json:"expires"`
	Name    string    `json:"name"`
}

// spnegoLogin answers GET /v1/auth/spnego: without a Negotiate header the
// challenge, with one a session (body or cookie, ?issue=token|cookie).
// Nothing is kept between requests (the Kerberos proof is one message),
// so any node answers any leg and nothing is forwarded.
func (s *Server) spnegoLogin(r *http.Request, _ idm.Actor) (result, error) {
	if s.SPNEGO == nil {
		return result{}, idm.NotFound("Kerberos (SPNEGO) login is not configured on this server")
	}
	issue := r.URL.Query().Get("issue")
	switch issue {
	case "", auth.IssueToken, auth.IssueCookie:
	default:
		return result{}, idm.Invalid("issue must be token or cookie, not %q", issue)
	}
	reauth := r.URL.Query().Get("reauth") == "1"
	if reauth {
		// Reauthentication of a signed-in session (reauth_external.go):
		// without one there is nothing to confirm.
		if _, _, err := s.sessionBesideNegotiate(r); err != nil {
			return result{}, err
		}
	}
	h := negotiateValue(r)
	if scheme, _, _ := strings.Cut(strings.TrimSpace(h), " "); !strings.EqualFold(scheme, "Negotiate") {
		// The challenge. Negotiate is the only scheme offered: gokrb5's
		// client (and curl) answer only when it comes first.
		return s.negotiate("", http.StatusUnauthorized, codeNegotiate,
			"Kerberos login is available: send Authorization: Negotiate <token> (curl --negotiate -u :, a browser with a ticket, gatehouse login --kerberos)"), nil
	}
	res, err := s.SPNEGO.Accept(r.Context(), h)
	if err != nil {
		var e *spnego.Error
		if !errors.As(err, &e) {
			return result{}, err
		}
		s.Log.Warn("spnego: login refused", "reason", e.Reason, "error", e.Msg, "remote", r.RemoteAddr)
		return s.negotiate(e.Continue, http.StatusUnauthorized, string(e.Reason), e.Msg), nil
	}
	acct, ok := s.principalAccount(res)
	if !ok {
		msg := "principal " + res.Principal + " is not mapped to any account"
		s.Log.Warn("spnego: login refused", "reason", codeUnmapped, "principal", res.Principal, "remote", r.RemoteAddr)
		return s.negotiate("", http.StatusUnauthorized, codeUnmapped, msg), nil
	}
	if reauth {
		return s.spnegoReauthResult(r, res, acct, issue)
	}
	tok, exp, err := s.Auth.IssueExternal(r.Context(), acct, entry.MechKerberos, issue)
	if err != nil {
		code := ""
		switch {
		case errors.Is(err, auth.ErrDisabled):
			code = codeDisabled
		case errors.Is(err, auth.ErrBelowPolicy):
			code = codeBelowPolicy
		default:
			return result{}, authError(err)
		}
		s.Log.Warn("spnego: login refused", "reason", code, "principal", res.Principal, "account", acct.Name, "error", err, "remote", r.RemoteAddr)
		return result{status: http.StatusForbidden, body: errorBody{Error: err.Error(), Code: code}}, nil
	}
	s.Log.Info("spnego: login", "principal", res.Principal, "account", acct.Name, "service", res.Service, "remote", r.RemoteAddr)
	return s.spnegoIssued(res, acct, tok, exp, issue), nil
}

// spnegoIssued answers a Kerberos login or reauthentication: the mutual
// token, and the session in the body or (issue cookie) the cookie.
func (s *Server) spnegoIssued(res spnego.Result, acct *entry.Entry, tok string, exp time.Time, issue string) result {
	out := result{status: http.StatusOK, header: http.Header{}}
	if res.Mutual != "" {
		out.header.Set("WWW-Authenticate", "Negotiate "+res.Mutual)
	}
	body := spnegoBody{Token: tok, Expires: exp.UTC(), Name: acct.Name}
	if issue == auth.IssueCookie {
		out.cookies = []*http.Cookie{s.sessionCookie(tok, exp)}
		body.Token = ""
	}
	out.body = body
	return out
}

// negotiateValue is the request's Authorization value of the Negotiate
// scheme, else its first one: a reauthentication may carry its Bearer
// session in a second Authorization value.
func negotiateValue(r *http.Request) string {
	vs := r.Header.Values("Authorization")
	for _, v := range vs {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(v), " "); strings.EqualFold(scheme, "Negotiate") {
			return v
		}
	}
	if len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// negotiate is a 401 challenge (or refusal): "WWW-Authenticate: Negotiate"
// with the continuation token when there is one, and the reason as JSON.
func (s *Server) negotiate(cont string, status int, code, msg string) result {
	h := http.Header{}
	v := "Negotiate"
	if cont != "" {
		v += " " + cont
	}
	h.Set("WWW-Authenticate", v)
	return result{status: status, header: h, body: errorBody{Error: msg, Code: code}}
}

// principalAccount maps a Kerberos principal to a person: the person
// listing it, else, in a MapNameRealms realm, the person named exactly
// like the principal's single-component name.
func (s *Server) principalAccount(res spnego.Result) (*entry.Entry, bool) {
	if e, ok := s.State.EntryByPrincipal(res.Principal); ok && e.Class == entry.Person {
		return e, true
	}
	if !slices.Contains(s.MapNameRealms, res.Realm) {
		return nil, false
	}
	name := strings.TrimSuffix(res.Principal, "@"+res.Realm)
	if name == "" || strings.Contains(name, "/") {
		return nil, false // host/x or HTTP/x are services, not persons
	}
	e, ok := s.State.Entry(name)
	if !ok || e.Class != entry.Person || e.Name != name {
		return nil, false
	}
	return e, true
}
