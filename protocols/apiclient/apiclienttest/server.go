package apiclienttest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
)

// Server is a TLS test server holding entries in memory.
type Server struct {
	*httptest.Server
	// CAFile is a PEM file with the server's certificate, for apiclient.New.
	CAFile string

	mu        sync.Mutex
	index     uint64
	entries   map[string]map[string]*entry // class → name → entry
	passwords map[string]string
	tokens    map[string]string // token → account name
	logins    map[string]*login // auth session id → state
	denied    []string
	// MinIndexSeen records the X-Gatehouse-Min-Index of every request, in order.
	minIndexSeen []string
}

type entry struct {
	UUID        string   `json:"uuid"`
	Class       string   `json:"class"`
	Name        string   `json:"name"`
	SPN         string   `json:"spn"`
	DisplayName string   `json:"displayname"`
	Mail        []string `json:"mail"`
	Description string   `json:"description"`
	Members     []string `json:"members"`
	MemberOf    []string `json:"memberof"`
	HasPassword bool     `json:"has_password"`
	Version     uint64   `json:"version"`
}

type login struct {
	name  string
	begun bool
}

// New starts a server with one person "admin" whose password is adminPassword.
// It is closed when the test ends.
func New(t testing.TB, adminPassword string) *Server {
	t.Helper()
	s := &Server{
		entries:   map[string]map[string]*entry{"person": {}, "group": {}, "service_account": {}},
		passwords: map[string]string{"admin": adminPassword},
		tokens:    map[string]string{},
		logins:    map[string]*login{},
		denied:    []string{"root"},
	}
	s.entries["person"]["admin"] = &entry{UUID: newID(), Class: "person", Name: "admin", SPN: "admin@example.com", DisplayName: "Administrator", HasPassword: true, Version: 1}
	s.Server = httptest.NewTLSServer(s.routes())
	t.Cleanup(s.Close)
	s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(s.CAFile, pemBytes, 0o600); err != nil {
		t.Fatalf("write CA file: %v", err)
	}
	return s
}

// MinIndexSeen returns the X-Gatehouse-Min-Index values received so far
// ("" for requests without one).
func (s *Server) MinIndexSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.minIndexSeen)
}

// Index is the fake commit index of the last write.
func (s *Server) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}

// decode refuses unknown fields, as the real API does.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		writeErr(w, 400, "invalid", "malformed request body: "+err.Error())
		return false
	}
	return true
}

// committed stamps a write's answer with a fresh index; s.mu is held.
func (s *Server) committed(w http.ResponseWriter) {
	s.index++
	w.Header().Set("X-Gatehouse-Index", strconv.FormatUint(s.index, 10))
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth", s.auth)
	mux.HandleFunc("GET /v1/self", s.authed(func(w http.ResponseWriter, r *http.Request, who string) {
		writeJSON(w, 200, s.entries["person"][who])
	}))
	mux.HandleFunc("POST /v1/logout", s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		delete(s.tokens, bearer(r))
		w.WriteHeader(204)
	}))
	for _, class := range []string{"person", "group", "service_account"} {
		s.entryRoutes(mux, class)
	}
	mux.HandleFunc("POST /v1/person/{id}/password", s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		var body struct {
			Password string `json:"password"`
		}
		e := s.find(w, "person", r.PathValue("id"))
		if e == nil || !decode(w, r, &body) {
			return
		}
		if len(body.Password) < 8 {
			writeErr(w, 400, "invalid", "password is too short")
			return
		}
		s.passwords[e.Name] = body.Password
		e.HasPassword = true
		s.committed(w)
		w.WriteHeader(204)
	}))
	mux.HandleFunc("GET /v1/group/{id}/members", s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		g := s.find(w, "group", r.PathValue("id"))
		if g == nil {
			return
		}
		out := []*entry{}
		for _, m := range g.Members {
			for _, class := range []string{"person", "group", "service_account"} {
				if e, ok := s.entries[class][m]; ok {
					out = append(out, e)
				}
			}
		}
		writeJSON(w, 200, map[string]any{"entries": out})
	}))
	mux.HandleFunc("POST /v1/group/{id}/members", s.authed(s.members(true)))
	mux.HandleFunc("DELETE /v1/group/{id}/members", s.authed(s.members(false)))
	mux.HandleFunc("GET /v1/system/denied_names", s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		writeJSON(w, 200, map[string]any{"names": s.denied})
	}))
	mux.HandleFunc("POST /v1/system/denied_names", s.authed(s.deniedNames(true)))
	mux.HandleFunc("DELETE /v1/system/denied_names", s.authed(s.deniedNames(false)))
	return mux
}

func bearer(r *http.Request) string {
	const p = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):]
	}
	return ""
}

// authed checks the token, records the min-index header and holds s.mu for the handler.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.minIndexSeen = append(s.minIndexSeen, r.Header.Get("X-Gatehouse-Min-Index"))
		if v := r.Header.Get("X-Gatehouse-Min-Index"); v != "" {
			if idx, err := strconv.ParseUint(v, 10, 64); err != nil || idx > s.index {
				writeErr(w, 503, "unavailable", fmt.Sprintf("this node has not reached index %s", v))
				return
			}
		}
		who, ok := s.tokens[bearer(r)]
		if !ok {
			writeErr(w, 401, "unauthorized", "no valid session token")
			return
		}
		h(w, r, who)
	}
}

func (s *Server) find(w http.ResponseWriter, class, id string) *entry {
	for _, e := range s.entries[class] {
		if e.Name == id || e.UUID == id || e.SPN == id {
			return e
		}
	}
	writeErr(w, 404, "not_found", fmt.Sprintf("no %s named %q", class, id))
	return nil
}

func (s *Server) nameTaken(name string) bool {
	for _, m := range s.entries {
		if _, ok := m[name]; ok {
			return true
		}
	}
	return false
}

func (s *Server) entryRoutes(mux *http.ServeMux, class string) {
	base := "/v1/" + class
	mux.HandleFunc("POST "+base, s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		var body struct {
			Name        string   `json:"name"`
			DisplayName string   `json:"displayname"`
			Mail        []string `json:"mail"`
			Description string   `json:"description"`
			Members     []string `json:"members"`
		}
		if !decode(w, r, &body) {
			return
		}
		switch {
		case body.Name == "":
			writeErr(w, 400, "invalid", "name is required")
			return
		case slices.Contains(s.denied, body.Name):
			writeErr(w, 400, "invalid", fmt.Sprintf("the name %q is denied", body.Name))
			return
		case s.nameTaken(body.Name):
			writeErr(w, 409, "conflict", fmt.Sprintf("the name %q is already taken", body.Name))
			return
		}
		e := &entry{UUID: newID(), Class: class, Name: body.Name, SPN: body.Name + "@example.com",
			DisplayName: body.DisplayName, Mail: body.Mail, Description: body.Description, Members: body.Members, Version: 1}
		s.entries[class][e.Name] = e
		s.committed(w)
		writeJSON(w, 201, e)
	}))
	mux.HandleFunc("GET "+base, s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		out := []*entry{}
		for _, e := range s.entries[class] {
			out = append(out, e)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		writeJSON(w, 200, map[string]any{"entries": out})
	}))
	mux.HandleFunc("GET "+base+"/{id}", s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		if e := s.find(w, class, r.PathValue("id")); e != nil {
			writeJSON(w, 200, e)
		}
	}))
	mux.HandleFunc("PATCH "+base+"/{id}", s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		var p struct {
			Name        *string   `json:"name"`
			DisplayName *string   `json:"displayname"`
			Mail        *[]string `json:"mail"`
			Description *string   `json:"description"`
		}
		e := s.find(w, class, r.PathValue("id"))
		if e == nil || !decode(w, r, &p) {
			return
		}
		if p.Name != nil {
			delete(s.entries[class], e.Name)
			e.Name, e.SPN = *p.Name, *p.Name+"@example.com"
			s.entries[class][e.Name] = e
		}
		if p.DisplayName != nil {
			e.DisplayName = *p.DisplayName
		}
		if p.Mail != nil {
			e.Mail = *p.Mail
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		e.Version++
		s.committed(w)
		writeJSON(w, 200, e)
	}))
	mux.HandleFunc("DELETE "+base+"/{id}", s.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		if e := s.find(w, class, r.PathValue("id")); e != nil {
			delete(s.entries[class], e.Name)
			s.committed(w)
			w.WriteHeader(204)
		}
	}))
}

func (s *Server) members(add bool) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, _ string) {
		var body struct {
			Members []string `json:"members"`
		}
		g := s.find(w, "group", r.PathValue("id"))
		if g == nil || !decode(w, r, &body) {
			return
		}
		for _, m := range body.Members {
			if !s.nameTaken(m) {
				writeErr(w, 404, "not_found", fmt.Sprintf("no entry named %q", m))
				return
			}
		}
		for _, m := range body.Members {
			if add && !slices.Contains(g.Members, m) {
				g.Members = append(g.Members, m)
			}
			if !add {
				g.Members = slices.DeleteFunc(g.Members, func(x string) bool { return x == m })
			}
		}
		g.Version++
		s.committed(w)
		writeJSON(w, 200, g)
	}
}

func (s *Server) deniedNames(add bool) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, _ string) {
		var body struct {
			Names []string `json:"names"`
		}
		if !decode(w, r, &body) {
			return
		}
		for _, n := range body.Names {
			if add && !slices.Contains(s.denied, n) {
				s.denied = append(s.denied, n)
			}
			if !add {
				s.denied = slices.DeleteFunc(s.denied, func(x string) bool { return x == n })
			}
		}
		s.committed(w)
		writeJSON(w, 200, map[string]any{"names": s.denied})
	}
}
