package api

import (
	"net/http"

	"github.com/gatehouse-idm/gatehouse/idm"
)

// Kerberos principals of persons: which Kerberos logins map to whom.
func (s *Server) routesKerberos(route routeFunc) {
	route("POST /v1/person/{id}/kerberos/principals", readWrite, s.addPrincipal)
	route("DELETE /v1/person/{id}/kerberos/principals/{principal}", readWrite, s.removePrincipal)
}

func (s *Server) addPrincipal(r *http.Request, a idm.Actor) (result, error) {
	var in struct {
		Principal string `json:"principal"`
	}
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	e, idx, err := s.Svc.AddKerberosPrincipal(r.Context(), a, r.PathValue("id"), in.Principal)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.view(e), index: idx}, nil
}

func (s *Server) removePrincipal(r *http.Request, a idm.Actor) (result, error) {
	e, idx, err := s.Svc.RemoveKerberosPrincipal(r.Context(), a, r.PathValue("id"), r.PathValue("principal"))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.view(e), index: idx}, nil
}
