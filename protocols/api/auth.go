package api

import (
	"errors"
	"net/http"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
)

func (s *Server) routesAuth(route routeFunc) {
	route("POST /v1/auth", public, s.authStep)
}

func (s *Server) authStep(r *http.Request, _ idm.Actor) (result, error) {
	var req auth.Request
	if err := decode(r, &req); err != nil {
		return result{}, err
	}
	sid := r.Header.Get(HeaderAuthSession)
	if sid == "" {
		if c, err := r.Cookie(CookieAuthSession); err == nil {
			sid = c.Value
		}
	}
	resp, err := s.step(r.Context(), sid, req, r.RemoteAddr)
	switch {
	case errors.Is(err, auth.ErrBadStep):
		return result{}, idm.Unauthorized("%v", err)
	case errors.Is(err, auth.ErrTooMany):
		return result{}, idm.Unavailable("%v", err)
	case err != nil:
		return result{}, err
	}
	res := result{status: http.StatusOK, body: resp, header: http.Header{HeaderAuthSession: {resp.SessionID}}}
	cookie := &http.Cookie{Name: CookieAuthSession, Value: resp.SessionID, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(auth.InflightTTL.Seconds())}
	if resp.State.Success != nil || resp.State.Denied != nil {
		cookie.Value, cookie.MaxAge = "", -1 // the login is over
	}
	res.cookies = []*http.Cookie{cookie}
	return res, nil
}

func (s *Server) jwks(r *http.Request, _ idm.Actor) (result, error) {
	return result{status: http.StatusOK, body: s.Signer.JWKS()}, nil
}

func (s *Server) self(r *http.Request, a idm.Actor) (result, error) {
	e, ok := s.State.Entry(a.UUID)
	if !ok {
		return result{}, idm.Unauthorized("the account of this session no longer exists")
	}
	return result{status: http.StatusOK, body: s.view(e)}, nil
}

type statusBody struct {
	Status       string `json:"status"`
	Node         string `json:"node"`
	Leader       string `json:"leader,omitempty"`
	AppliedIndex uint64 `json:"applied_index"`
	Reason       string `json:"reason,omitempty"`
}

// status is 200 only when the node can serve: it belongs to a cluster and
// holds initialised state. No leader is fine: reads and logins go on.
func (s *Server) status(r *http.Request, _ idm.Actor) (result, error) {
	leader, _ := s.Cluster.Leader()
	b := statusBody{Status: "ok", Node: s.NodeID, Leader: leader, AppliedIndex: s.State.AppliedIndex()}
	switch {
	case !s.Cluster.HasState():
		b.Status, b.Reason = "unavailable", "this node is not part of a cluster yet"
	case !s.State.Initialized():
		b.Status, b.Reason = "unavailable", "the cluster is not initialised yet"
	}
	if b.Status != "ok" {
		return result{status: http.StatusServiceUnavailable, body: b}, nil
	}
	return result{status: http.StatusOK, body: b}, nil
}
