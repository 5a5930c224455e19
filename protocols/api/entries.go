package api

import (
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

type classRoutes struct {
	path  string
	class entry.Class
}

var (
	persons         = classRoutes{"person", entry.Person}
	serviceAccounts = classRoutes{"service_account", entry.ServiceAccount}
	groups          = classRoutes{"group", entry.Group}
)

// EntryView is an entry as clients see it: names instead of uuids, the spn,
// the transitive memberof, and never a secret.
type EntryView struct {
	UUID        string   `json:"uuid"`
	Class       string   `json:"class"`
	Name        string   `json:"name"`
	SPN         string   `json:"spn"`
	DisplayName string   `json:"displayname,omitempty"`
	Mail        []string `json:"mail,omitempty"`
	Description string   `json:"description,omitempty"`
	Members     []string `json:"members,omitempty"`
	MemberOf    []string `json:"memberof,omitempty"`
	HasPassword bool     `json:"has_password"`
	// KerberosPrincipals map Kerberos logins to this person.
	KerberosPrincipals []string `json:"krb_principals,omitempty"`
	Disabled           bool     `json:"disabled,omitempty"`
	Builtin            bool     `json:"builtin"`
	Version            uint64   `json:"version"`
	Created            string   `json:"created"`
	Updated            string   `json:"updated"`
}

func millis(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

func (s *Server) view(e *entry.Entry) EntryView {
	v := EntryView{UUID: e.UUID, Class: string(e.Class), Name: e.Name, SPN: e.Name + "@" + s.State.System().Domain,
		DisplayName: e.DisplayName, Mail: e.Mail, Description: e.Description, HasPassword: e.PasswordHash != "",
		KerberosPrincipals: e.KerberosPrincipals, Disabled: e.Disabled,
		Builtin: e.Builtin, Version: e.Version, Created: millis(e.Created), Updated: millis(e.Updated)}
	for _, m := range e.Members {
		v.Members = append(v.Members, s.State.NameOf(m))
	}
	for _, g := range s.State.MemberOf(e.UUID) {
		v.MemberOf = append(v.MemberOf, s.State.NameOf(g))
	}
	return v
}

type listBody struct {
	Entries []EntryView `json:"entries"`
}

func (s *Server) create(class entry.Class) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		var in idm.Input
		if err := decode(r, &in); err != nil {
			return result{}, err
		}
		e, idx, err := s.Svc.Create(r.Context(), a, class, in)
		if err != nil {
			return result{}, err
		}
		return result{status: http.StatusCreated, body: s.view(e), index: idx}, nil
	}
}

func (s *Server) list(class entry.Class) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		body := listBody{Entries: []EntryView{}}
		for _, e := range s.State.Entries(class) {
			body.Entries = append(body.Entries, s.view(e))
		}
		return result{status: http.StatusOK, body: body}, nil
	}
}

func (s *Server) lookup(r *http.Request, class entry.Class) (*entry.Entry, error) {
	id := r.PathValue("id")
	e, ok := s.Svc.Lookup(id)
	if !ok || e.Class != class {
		return nil, idm.NotFound("no %s named %q", class, id)
	}
	return e, nil
}

func (s *Server) get(class entry.Class) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		e, err := s.lookup(r, class)
		if err != nil {
			return result{}, err
		}
		return result{status: http.StatusOK, body: s.view(e)}, nil
	}
}

func (s *Server) update(class entry.Class) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		var in idm.Input
		if err := decode(r, &in); err != nil {
			return result{}, err
		}
		e, idx, err := s.Svc.Update(r.Context(), a, class, r.PathValue("id"), in)
		if err != nil {
			return result{}, err
		}
		return result{status: http.StatusOK, body: s.view(e), index: idx}, nil
	}
}

func (s *Server) delete(class entry.Class) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		e, err := s.lookup(r, class)
		if err != nil {
			return result{}, err
		}
		idx, err := s.Svc.Delete(r.Context(), a, class, e.UUID)
		if err != nil {
			return result{}, err
		}
		return result{status: http.StatusNoContent, index: idx}, nil
	}
}

type passwordBody struct {
	Password string `json:"password"`
}

func (s *Server) setPassword(r *http.Request, a idm.Actor) (result, error) {
	var in passwordBody
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	idx, err := s.Svc.SetPassword(r.Context(), a, r.PathValue("id"), in.Password)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusNoContent, index: idx}, nil
}

func (s *Server) members(r *http.Request, a idm.Actor) (result, error) {
	g, err := s.lookup(r, entry.Group)
	if err != nil {
		return result{}, err
	}
	body := listBody{Entries: []EntryView{}}
	for _, m := range g.Members {
		if e, ok := s.State.Entry(m); ok {
			body.Entries = append(body.Entries, s.view(e))
		}
	}
	return result{status: http.StatusOK, body: body}, nil
}

type membersBody struct {
	Members []string `json:"members"`
}

func (s *Server) changeMembers(add bool) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		var in membersBody
		if err := decode(r, &in); err != nil {
			return result{}, err
		}
		g, idx, err := s.Svc.ChangeMembers(r.Context(), a, r.PathValue("id"), in.Members, add)
		if err != nil {
			return result{}, err
		}
		return result{status: http.StatusOK, body: s.view(g), index: idx}, nil
	}
}

type namesBody struct {
	Names []string `json:"names"`
}

func (s *Server) deniedNames(r *http.Request, a idm.Actor) (result, error) {
	return result{status: http.StatusOK, body: namesBody{Names: s.State.DeniedNames()}}, nil
}

func (s *Server) changeDenied(add bool) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		var in namesBody
		if err := decode(r, &in); err != nil {
			return result{}, err
		}
		idx, err := s.Svc.ChangeDeniedNames(r.Context(), a, in.Names, add)
		if err != nil {
			return result{}, err
		}
		return result{status: http.StatusOK, body: namesBody{Names: s.State.DeniedNames()}, index: idx}, nil
	}
}
