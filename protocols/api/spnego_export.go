package api

import (
	"errors"
	"net/http"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
)

// NegotiateSession logs a browser in from its Authorization: Negotiate
// header with the same acceptor, principal mapping and policy checks as
// GET /v1/auth/spnego, for protocols that fall back to Kerberos (the OAuth2
// authorize page). It returns the session token, its verified claims, the
// session cookie to set and the mutual-authentication token ("" if none).
func (s *Server) NegotiateSession(r *http.Request) (string, *token.Claims, *http.Cookie, string, error) {
	if s.SPNEGO == nil {
		return "", nil, nil, "", errors.New("kerberos is not configured")
	}
	res, err := s.SPNEGO.Accept(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		return "", nil, nil, "", err
	}
	acct, ok := s.principalAccount(res)
	if !ok {
		return "", nil, nil, "", errors.New("principal " + res.Principal + " is not mapped to any account")
	}
	tok, exp, err := s.Auth.IssueExternal(r.Context(), acct, entry.MechKerberos, auth.IssueCookie)
	if err != nil {
		return "", nil, nil, "", err
	}
	c, err := s.Signer.Verify(tok, s.Now())
	if err != nil {
		return "", nil, nil, "", err
	}
	s.Log.Info("spnego: login for oauth2", "principal", res.Principal, "account", acct.Name, "remote", r.RemoteAddr)
	return tok, c, s.sessionCookie(tok, exp), res.Mutual, nil
}
