package api

import (
	"net/http"
	"time"
)

// SessionCookie is the session cookie a login sets (sessionCookie), for
// logins served outside this package (protocols/sso's upstream logins).
func (s *Server) SessionCookie(tok string, exp time.Time) *http.Cookie {
	return s.sessionCookie(tok, exp)
}

// SessionAccount names the account of r's session (cookie or bearer
// token), checked as every API route checks it; ok is false without a
// valid one. protocols/sso uses it to link a provider to the signed-in
// account.
func (s *Server) SessionAccount(r *http.Request) (uuid string, ok bool) {
	a, _, err := s.authenticate(r)
	if err != nil {
		return "", false
	}
	return a.UUID, true
}
