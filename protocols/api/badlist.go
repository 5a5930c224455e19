package api

import (
	"net/http"
	"strings"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
)

// The password badlist (docs/account-policy.md). Uploads are expected to
// be filtered by the client (gatehouse system pw-badlist upload runs zxcvbn
// on every core); the server only normalises, which costs nothing.
func (s *Server) routesBadlist(route routeFunc) {
	route("GET /v1/system/pw_badlist", readOnly, s.badlist)
	route("POST /v1/system/pw_badlist", readWrite, s.appendBadlist)
}

// BadlistView is the whole badlist, sorted.
type BadlistView struct {
	Count     int      `json:"count"`
	Passwords []string `json:"passwords"`
}

// BadlistAppend is the body of POST /v1/system/pw_badlist.
type BadlistAppend struct {
	Passwords []string `json:"passwords"`
}

// BadlistAdded answers an append: how many were new.
type BadlistAdded struct {
	Added int `json:"added"`
}

func (s *Server) badlist(r *http.Request, a idm.Actor) (result, error) {
	// A site's own additions can say something about it (a company name
	// with a year), so only those who manage passwords see the list.
	if !s.Svc.IsSystemAdmin(a) && !s.Svc.MayManagePolicy(a) {
		return result{}, idm.Forbidden("only members of system_admins or idm_account_policy_admins may read the password badlist")
	}
	v := BadlistView{Passwords: []string{}}
	s.State.ForEachBadlisted(func(p string) { v.Passwords = append(v.Passwords, p) })
	v.Count = len(v.Passwords)
	return result{status: http.StatusOK, body: v}, nil
}

func (s *Server) appendBadlist(r *http.Request, a idm.Actor) (result, error) {
	var in BadlistAppend
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	seen := make(map[string]struct{}, len(in.Passwords))
	pws := make([]string, 0, len(in.Passwords))
	for _, p := range in.Passwords {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if len(p) > fsm.MaxBadlistLen {
			return result{}, idm.Invalid("badlist passwords are at most %d bytes; %.20q… is longer", fsm.MaxBadlistLen, p)
		}
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		pws = append(pws, p)
	}
	if len(pws) == 0 {
		return result{}, idm.Invalid("no passwords given")
	}
	n, err := s.Svc.AppendBadlist(r.Context(), a, pws)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: BadlistAdded{Added: n}}, nil
}
