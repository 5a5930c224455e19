package apiclienttest

import (
	"net/http"
)

// auth implements the three password steps of POST /v1/auth. Like the real
// server it answers a wrong password with a denial that does not say whether
// the account exists.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var body struct {
		Step struct {
			Init  *string `json:"init"`
			Begin *string `json:"begin"`
			Cred  *struct {
				Password string `json:"password"`
			} `json:"cred"`
		} `json:"step"`
	}
	if !decode(w, r, &body) {
		return
	}
	step := body.Step
	reply := func(id string, state map[string]any) {
		w.Header().Set("X-Gatehouse-Auth-Session", id)
		http.SetCookie(w, &http.Cookie{Name: "__Host-gatehouse-auth-session", Value: id, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		writeJSON(w, 200, map[string]any{"sessionid": id, "state": state})
	}
	if step.Init != nil {
		id := newID()
		s.logins[id] = &login{name: *step.Init}
		reply(id, map[string]any{"choose": []string{"password"}})
		return
	}
	id := r.Header.Get("X-Gatehouse-Auth-Session")
	if c, err := r.Cookie("__Host-gatehouse-auth-session"); id == "" && err == nil {
		id = c.Value
	}
	l, ok := s.logins[id]
	if !ok {
		writeErr(w, 401, "unauthorized", "no such login session: start again with init")
		return
	}
	switch {
	case step.Begin != nil && *step.Begin == "password" && !l.begun:
		l.begun = true
		reply(id, map[string]any{"continue": []string{"password"}})
	case step.Cred != nil && l.begun:
		delete(s.logins, id)
		if pw, ok := s.passwords[l.name]; !ok || pw != step.Cred.Password {
			reply(id, map[string]any{"denied": "invalid name or password"})
			return
		}
		tok := newID()
		s.tokens[tok] = l.name
		reply(id, map[string]any{"success": tok})
	default:
		writeErr(w, 400, "invalid", "this step is not valid now")
	}
}
