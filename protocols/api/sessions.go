package api

import (
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
)

func (s *Server) routesSessions(route routeFunc) {
	route("POST /v1/logout", readOnly, s.logout)
	route("GET /v1/session", readOnly, s.currentSession)
	route("GET /v1/session/{account}", readOnly, s.listSessions)
	// Revoking only ever takes access away: a read-only session may end
	// its own account's sessions; others' need read-write (checked inside).
	route("DELETE /v1/session/{id}", readOnly, s.destroySession)
}

// sessionCookie carries a session token to a browser until it expires.
func (s *Server) sessionCookie(tok string, exp time.Time) *http.Cookie {
	return &http.Cookie{Name: CookieSession, Value: tok, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: max(int(exp.Sub(s.Now()).Seconds()), 1)}
}

// clearSessionCookie ends the web session in the browser too.
func clearSessionCookie() *http.Cookie {
	return &http.Cookie{Name: CookieSession, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1}
}

// logout revokes the session of the token on every node (a session.revoke
// in the log; every node refuses the token once it has applied it).
func (s *Server) logout(r *http.Request, a idm.Actor) (result, error) {
	c := claimsOf(r)
	if err := s.Svc.RevokeSession(r.Context(), a, c.SessionID, a.UUID, c.Expiry.Time()); err != nil {
		return result{}, err
	}
	return result{status: http.StatusNoContent, cookies: []*http.Cookie{clearSessionCookie(),
		{Name: CookieAuthSession, Value: "", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1}}}, nil
}

type sessionView struct {
	ID        string    `json:"id"`
	Account   string    `json:"account"`
	Name      string    `json:"name"`
	Mechanism string    `json:"mechanism"`
	Issued    time.Time `json:"issued"`
	Expires   time.Time `json:"expires"`
	Node      string    `json:"node,omitempty"`
	Current   bool      `json:"current,omitempty"`
}

func (s *Server) listSessions(r *http.Request, a idm.Actor) (result, error) {
	acct, ok := s.Svc.Lookup(r.PathValue("account"))
	if !ok {
		return result{}, idm.NotFound("no account named %q", r.PathValue("account"))
	}
	if acct.UUID != a.UUID && !s.Svc.IsIDMAdmin(a) {
		return result{}, idm.Forbidden("only your own sessions, unless you are in idm_admins")
	}
	now := s.Now().UnixMilli()
	c := claimsOf(r)
	cur := c.SessionID
	out := []sessionView{}
	listed := false
	for _, ss := range s.State.Sessions(acct.UUID) {
		if ss.Expires < now || s.State.IsRevoked(ss.ID) {
			continue
		}
		listed = listed || ss.ID == cur
		out = append(out, viewSession(ss, acct.Name, cur))
	}
	// The record of a login lands after the login (rule 4), a moment later
	// or, without a leader, much later: the caller's own session is listed
	// from its token meanwhile.
	if !listed && acct.UUID == a.UUID && c.IssuedAt != nil {
		out = append(out, viewSession(fsm.Session{ID: cur, Account: a.UUID, Mechanism: c.Mechanism,
			Issued: c.IssuedAt.Time().UnixMilli(), Expires: c.Expiry.Time().UnixMilli()}, acct.Name, cur))
	}
	return result{status: http.StatusOK, body: map[string]any{"sessions": out}}, nil
}

func viewSession(ss fsm.Session, name, current string) sessionView {
	return sessionView{ID: ss.ID, Account: ss.Account, Name: name, Mechanism: ss.Mechanism,
		Issued: time.UnixMilli(ss.Issued).UTC(), Expires: time.UnixMilli(ss.Expires).UTC(), Node: ss.Node, Current: ss.ID == current}
}

func (s *Server) destroySession(r *http.Request, a idm.Actor) (result, error) {
	id := r.PathValue("id")
	c := claimsOf(r)
	ss, ok := s.State.Session(id)
	switch {
	case id == c.SessionID:
		return s.logout(r, a)
	case !ok:
		return result{}, idm.NotFound("no session %q (it may have expired, or its record has not landed yet)", id)
	case ss.Account != a.UUID && !c.ReadWrite(s.Now()):
		return result{}, idm.ReauthRequired()
	}
	if err := s.Svc.RevokeSession(r.Context(), a, id, "", time.Time{}); err != nil {
		return result{}, err
	}
	return result{status: http.StatusNoContent}, nil
}

// currentSession describes the caller's own session, so a client can tell
// before a long job whether its read-write window will last.
func (s *Server) currentSession(r *http.Request, a idm.Actor) (result, error) {
	c := claimsOf(r)
	out := map[string]any{"id": c.SessionID, "account": a.UUID, "name": a.Name, "mechanism": c.Mechanism,
		"expires": c.Expiry.Time().UTC()}
	if c.IssuedAt != nil {
		out["issued"] = c.IssuedAt.Time().UTC()
	}
	if c.ReadWrite(s.Now()) {
		out["read_write_until"] = time.Unix(c.RWUntil, 0).UTC()
	}
	return result{status: http.StatusOK, body: out}, nil
}
