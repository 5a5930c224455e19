package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/protocols/spnego"
)

// Reauthentication of sessions made by an external login (upstream SSO,
// Kerberos): POST /v1/reauth cannot repeat their proof, so it answers 403
// reauth_external with the address that can (reauthExternalBody), and
// the Kerberos endpoint takes ?reauth=1 (spnegoReauth).

// codeReauthExternal is the error code of POST /v1/reauth for such sessions.
const codeReauthExternal = "reauth_external"

// Where an external session confirms its sign-in.
const (
	reauthURLKerberos = "/v1/auth/spnego?reauth=1"
	reauthURLSSO      = "/ui/sso/reauth"
	// reauthNextDefault is the page the SSO reauthentication returns to
	// when POST /v1/reauth did not name one (?next=).
	reauthNextDefault = "/ui/account"
)

// reauthExternalBody is errorBody with the address to go to.
type reauthExternalBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	ReauthURL string `json:"reauth_url"`
}

// writeReauthExternal answers an auth.ReauthExternalError (BeginReauth for
// an SSO or Kerberos session) and reports whether it did. For SSO the
// page to come back to is POST /v1/reauth's ?next= (a /ui/ path), else
// the account page; web pages replace it with their own address.
func (s *Server) writeReauthExternal(w http.ResponseWriter, r *http.Request, err error) bool {
	var rx *auth.ReauthExternalError
	if !errors.As(err, &rx) {
		return false
	}
	u := reauthURLKerberos
	if rx.Mechanism != entry.MechKerberos {
		next := localNext(r.URL.Query().Get("next"))
		if next == "" {
			next = reauthNextDefault
		}
		u = reauthURLSSO + "?next=" + url.QueryEscape(next)
	}
	writeJSON(w, http.StatusForbidden, reauthExternalBody{Error: rx.Error(), Code: codeReauthExternal, ReauthURL: u})
	return true
}

// localNext keeps next only when it is a plain path under /ui/ (the SSO
// page checks it again: this only keeps junk out of the answer).
func localNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.ContainsAny(next, "\\\r\n\t") || strings.Contains(next, "//") || len(next) > 1000 {
		return ""
	}
	return next
}

// spnegoReauthResult answers GET /v1/auth/spnego?reauth=1 once the
// Kerberos proof passed and mapped to acct: the request's session (the
// session cookie, or a Bearer token in a second Authorization value next
// to Negotiate) gets its write window, handed over as a Kerberos login
// hands over its session. issue "" answers in the cookie when the session
// came in the cookie, as POST /v1/reauth does.
func (s *Server) spnegoReauthResult(r *http.Request, res spnego.Result, acct *entry.Entry, issue string) (result, error) {
	claims, fromCookie, err := s.sessionBesideNegotiate(r)
	if err != nil {
		return result{}, err
	}
	if issue == "" && fromCookie {
		issue = auth.IssueCookie
	}
	tok, exp, err := s.Auth.ReauthExternal(r.Context(), claims, acct, entry.MechKerberos, issue)
	if err != nil {
		s.Log.Warn("spnego: reauthentication refused", "principal", res.Principal, "account", acct.Name, "error", err, "remote", r.RemoteAddr)
		return result{}, reauthError(err)
	}
	s.Log.Info("spnego: reauthentication", "principal", res.Principal, "account", acct.Name, "session", claims.SessionID, "remote", r.RemoteAddr)
	return s.spnegoIssued(res, acct, tok, exp, issue), nil
}

// sessionBesideNegotiate authenticates the session of a request whose
// Authorization header is taken by Negotiate: a Bearer token in another
// Authorization value, else the session cookie, checked exactly as every
// API route checks a session (authenticate).
func (s *Server) sessionBesideNegotiate(r *http.Request) (*token.Claims, bool, error) {
	rc := r.Clone(r.Context())
	rc.Header.Del("Authorization")
	fromCookie := true
	for _, v := range r.Header.Values("Authorization") {
		if strings.HasPrefix(v, "Bearer ") {
			rc.Header.Set("Authorization", v)
			fromCookie = false
			break
		}
	}
	_, claims, err := s.authenticate(rc)
	if err != nil {
		return nil, false, err
	}
	return claims, fromCookie, nil
}

// reauthError words ReauthExternal's refusals for the API.
func reauthError(err error) error {
	switch {
	case errors.Is(err, auth.ErrReauthAccount):
		return &idm.Error{Status: http.StatusForbidden, Code: "reauth_other_account", Msg: err.Error()}
	case errors.Is(err, auth.ErrReauthSession):
		return idm.Unauthorized("%v", err)
	case errors.Is(err, auth.ErrReauthWeaker), errors.Is(err, auth.ErrBelowPolicy):
		return &idm.Error{Status: http.StatusForbidden, Code: codeBelowPolicy, Msg: err.Error()}
	case errors.Is(err, auth.ErrDisabled):
		return &idm.Error{Status: http.StatusForbidden, Code: codeDisabled, Msg: err.Error()}
	}
	return authError(err)
}
