package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
)

func (s *Server) routesAuth(route routeFunc) {
	route("POST /v1/auth", public, s.authStep)
	route("POST /v1/reauth", readOnly, s.reauth)
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
	if err != nil {
		return result{}, authError(err)
	}
	return s.stepResult(resp), nil
}

// authError maps the engine's errors to API errors; none says more than
// that the step is not valid.
func authError(err error) error {
	switch {
	case errors.Is(err, auth.ErrBadStep):
		return idm.Unauthorized("%v", err)
	case errors.Is(err, auth.ErrTooMany):
		return idm.Unavailable("%v", err)
	case errors.Is(err, auth.ErrReauthUnavailable):
		return idm.Forbidden("%v", err)
	}
	return err
}

// stepResult answers a step: the in-flight id in a header and a cookie
// while the login goes on, and for a success asked as a cookie the session
// cookie instead of the token (scripts in the page never see the token).
func (s *Server) stepResult(resp auth.Response) result {
	res := result{status: http.StatusOK, header: http.Header{HeaderAuthSession: {resp.SessionID}}}
	inflight := &http.Cookie{Name: CookieAuthSession, Value: resp.SessionID, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(auth.InflightTTL.Seconds())}
	if resp.State.Success != nil || resp.State.Denied != nil {
		inflight.Value, inflight.MaxAge = "", -1 // the login is over
	}
	res.cookies = []*http.Cookie{inflight}
	if resp.State.Success != nil && resp.Issue == auth.IssueCookie {
		res.cookies = append(res.cookies, s.sessionCookie(*resp.State.Success, time.Unix(resp.Expires, 0)))
		cookie := auth.IssueCookie
		resp.State.Success = &cookie
	}
	resp.Issue, resp.Expires = "", 0 // for this layer only
	res.body = resp
	return res
}

// reauthBody is the optional body of POST /v1/reauth.
type reauthBody struct {
	Issue string `json:"issue"`
}

// reauth starts a login bound to the session's account and mechanism; its
// steps go to /v1/auth. A session held in the cookie gets its cookie
// refreshed on success unless the body asks for "issue":"token".
func (s *Server) reauth(r *http.Request, _ idm.Actor) (result, error) {
	var body reauthBody
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return result{}, err
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(raw))
		if err := decode(r, &body); err != nil {
			return result{}, err
		}
	}
	if body.Issue == "" && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		body.Issue = auth.IssueCookie
	}
	resp, err := s.Auth.BeginReauth(claimsOf(r), body.Issue)
	if err != nil {
		return result{}, authError(err)
	}
	return s.stepResult(resp), nil
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
