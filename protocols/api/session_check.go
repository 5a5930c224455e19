package api

import (
	"net/http"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/token"
)

// CheckSession verifies the request's session (Bearer token or session
// cookie) exactly as the API does: signature, expiry, revocation, the
// account's existence and its SessionsNotBefore. Other protocols (the
// OAuth2 provider's login glue) use it instead of copying the checks.
func (s *Server) CheckSession(r *http.Request) (idm.Actor, *token.Claims, error) {
	return s.authenticate(r)
}
