package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/metrics"
)

// MaxBody bounds request bodies.
const MaxBody = 1 << 20

// Header names of the read-your-writes protocol and the in-flight login.
const (
	HeaderIndex    = "X-Gatehouse-Index"
	HeaderMinIndex = "X-Gatehouse-Min-Index"
	// HeaderConsistency: "linearizable" makes a read wait until this node
	// has applied everything committed before the request arrived (ReadIndex
	// through the leader), instead of answering from possibly stale state.
	HeaderConsistency = "X-Gatehouse-Consistency"
	HeaderAuthSession = "X-Gatehouse-Auth-Session"
	CookieAuthSession = "__Host-gatehouse-auth-session"
)

// minIndexWait bounds how long a read waits for this node to catch up.
const minIndexWait = 5 * time.Second

// Cluster is what the API needs to know of the node's cluster state.
type Cluster interface {
	HasState() bool
	Leader() (id, apiAddr string)
	// ConsistentIndex returns, once this node has applied it, an index
	// covering every write acknowledged before the call.
	ConsistentIndex(ctx context.Context) (uint64, error)
}

// Server holds the API's collaborators.
type Server struct {
	Svc     *idm.Service
	Auth    *auth.Engine
	Signer  *token.Signer
	State   *fsm.FSM
	Cluster Cluster
	// Peers forwards login steps to the node that holds the login; nil on
	// a single node.
	Peers   Peers
	NodeID  string
	Metrics *metrics.HTTP
	Log     *slog.Logger
	Now     func() time.Time
	// Extra routes (e.g. /metrics) registered by the server wiring.
	Extra map[string]http.Handler
	// UI serves /ui/ (the web pages); nil leaves them out.
	UI http.Handler
	CredUpdateDeps
	SPNEGODeps
	SSODeps
	OAuth2ClientDeps
	RekeyDeps
}

// access is what a route asks of the caller.
type access int

const (
	public    access = iota // no session
	readOnly                // any valid session
	readWrite               // a session inside its privilege window (after reauth)
)

type routeFunc func(pattern string, acc access, h handlerFunc)

// result is what a handler returns.
type result struct {
	status  int
	body    any
	index   uint64
	header  http.Header
	cookies []*http.Cookie
	// raw is a body already encoded (a forwarded answer), sent as is.
	raw []byte
}

type handlerFunc func(r *http.Request, actor idm.Actor) (result, error)

// Handler builds the router.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, acc access, h handlerFunc) {
		mux.Handle(pattern, s.wrap(pattern, acc, h))
	}
	route("GET /v1/jwks", public, s.jwks)
	route("GET /v1/self", readOnly, s.self)
	for _, c := range []classRoutes{persons, serviceAccounts, groups} {
		route("POST /v1/"+c.path, readWrite, s.create(c.class))
		route("GET /v1/"+c.path, readOnly, s.list(c.class))
		route("GET /v1/"+c.path+"/{id}", readOnly, s.get(c.class))
		route("PATCH /v1/"+c.path+"/{id}", readWrite, s.update(c.class))
		route("DELETE /v1/"+c.path+"/{id}", readWrite, s.delete(c.class))
	}
	route("POST /v1/person/{id}/password", readWrite, s.setPassword)
	route("POST /v1/service_account/{id}/password", readWrite, s.setPassword)
	route("GET /v1/group/{id}/members", readOnly, s.members)
	route("POST /v1/group/{id}/members", readWrite, s.changeMembers(true))
	route("DELETE /v1/group/{id}/members", readWrite, s.changeMembers(false))
	route("GET /v1/system/denied_names", readOnly, s.deniedNames)
	route("POST /v1/system/denied_names", readWrite, s.changeDenied(true))
	route("DELETE /v1/system/denied_names", readWrite, s.changeDenied(false))
	route("GET /status", public, s.status)
	s.routesAuth(route)
	s.routesSessions(route)
	s.routesPolicy(route)
	s.routesBadlist(route)
	s.routesCredUpdate(route)
	s.routesKerberos(route)
	s.routesSPNEGO(route)
	s.routesSSO(route)
	s.routesOAuth2Clients(route)
	s.routesRekey(route)
	if s.UI != nil {
		mux.Handle("/ui/", s.UI)
	}
	for p, h := range s.Extra {
		mux.Handle(p, s.Metrics.Wrap(p, h))
	}
	mux.Handle("/", s.wrap("unknown", public, func(*http.Request, idm.Actor) (result, error) {
		return result{}, idm.NotFound("no such endpoint; see docs/api.md")
	}))
	return mux
}

func (s *Server) wrap(route string, acc access, h handlerFunc) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// HTTPS only, always: browsers should never try plain HTTP, nor
		// guess a content type other than the one we send.
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		if err := cookieBodyIsJSON(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.waitMinIndex(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		var actor idm.Actor
		if acc != public {
			a, claims, err := s.authenticate(r)
			if err != nil {
				if _, cerr := r.Cookie(CookieSession); cerr == nil {
					// A refused session cookie is of no more use: drop it
					// (logout of an already revoked session included).
					http.SetCookie(w, clearSessionCookie())
				}
				s.writeError(w, r, err)
				return
			}
			if acc == readWrite && !claims.ReadWrite(s.Now()) {
				s.writeError(w, r, idm.ReauthRequired())
				return
			}
			actor = a
			r = r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims))
		}
		res, err := h(r, actor)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for k, vs := range res.header {
			w.Header()[k] = vs
		}
		for _, c := range res.cookies {
			http.SetCookie(w, c)
		}
		if res.index != 0 {
			w.Header().Set(HeaderIndex, strconv.FormatUint(res.index, 10))
		}
		if res.raw != nil {
			w.WriteHeader(res.status)
			w.Write(res.raw)
			return
		}
		if res.body == nil {
			w.WriteHeader(res.status)
			return
		}
		writeJSON(w, res.status, res.body)
	})
	if s.Metrics == nil {
		return inner
	}
	return s.Metrics.Wrap(route, inner)
}

func (s *Server) waitMinIndex(r *http.Request) error {
	switch c := r.Header.Get(HeaderConsistency); c {
	case "", "local":
	case "linearizable":
		ctx, cancel := context.WithTimeout(r.Context(), minIndexWait)
		defer cancel()
		if _, err := s.Cluster.ConsistentIndex(ctx); err != nil {
			return idm.Unavailable("a linearizable read needs the leader, and none answered: %v", err)
		}
	default:
		return idm.Invalid("%s must be local or linearizable, not %q", HeaderConsistency, c)
	}
	v := r.Header.Get(HeaderMinIndex)
	if v == "" {
		return nil
	}
	idx, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return idm.Invalid("%s must be a log index (a whole number)", HeaderMinIndex)
	}
	ctx, cancel := context.WithTimeout(r.Context(), minIndexWait)
	defer cancel()
	if err := s.State.WaitApplied(ctx, idx); err != nil {
		return idm.Unavailable("this node has not yet applied index %d (it is at %d); retry or ask another node", idx, s.State.AppliedIndex())
	}
	return nil
}

// cookieBodyIsJSON: a request that carries one of our cookies and a body
// must say its body is JSON. Browsers let any page send a cross-site
// text/plain form; cross-origin protection already refuses those, and this
// is the second lock on the same door.
func cookieBodyIsJSON(r *http.Request) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.ContentLength == 0 {
		return nil
	}
	_, c1 := r.Cookie(CookieSession)
	_, c2 := r.Cookie(CookieAuthSession)
	if c1 != nil && c2 != nil {
		return nil
	}
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
		return idm.UnsupportedMedia("a request with a session cookie must send its body as Content-Type: application/json")
	}
	return nil
}

// Session cookie of the web pages (and of API calls they make).
const CookieSession = "__Host-gatehouse-session"

type claimsKey struct{}

// claimsOf returns the verified session of an authenticated request.
func claimsOf(r *http.Request) *token.Claims {
	c, _ := r.Context().Value(claimsKey{}).(*token.Claims)
	return c
}

// sessionToken finds the session token: Authorization: Bearer, else the
// session cookie.
func sessionToken(r *http.Request) string {
	if raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(raw)
	}
	if c, err := r.Cookie(CookieSession); err == nil {
		return c.Value
	}
	return ""
}

// authenticate verifies the session token locally, refuses revoked
// sessions, and checks that the account still exists.
func (s *Server) authenticate(r *http.Request) (idm.Actor, *token.Claims, error) {
	raw := sessionToken(r)
	if raw == "" {
		return idm.Actor{}, nil, idm.Unauthorized("authentication required: send Authorization: Bearer <token> (get one with gatehouse login)")
	}
	c, err := s.Signer.Verify(raw, s.Now())
	if err != nil {
		s.Log.Info("token refused", "error", err, "remote", r.RemoteAddr)
		return idm.Actor{}, nil, idm.Unauthorized("the session token is not valid or has expired; log in again")
	}
	if s.State.IsRevoked(c.SessionID) {
		return idm.Actor{}, nil, idm.Unauthorized("this session has been logged out or revoked; log in again")
	}
	if c.MinIndex > 0 {
		// Almost always applied already; when not, the account was
		// written just before the login on another node.
		ctx, cancel := context.WithTimeout(r.Context(), minIndexWait)
		err := s.State.WaitApplied(ctx, c.MinIndex)
		cancel()
		if err != nil {
			return idm.Actor{}, nil, idm.Unavailable("this node has not caught up with the cluster yet; try again")
		}
	}
	e, ok := s.State.Entry(c.Subject)
	if !ok {
		return idm.Actor{}, nil, idm.Unauthorized("the account of this session no longer exists")
	}
	// Whole seconds: iat has no finer grain, and a login in the same second
	// as a reset comes after it more often than not.
	if nb := e.SessionsNotBefore; nb > 0 && c.IssuedAt != nil && c.IssuedAt.Time().Unix() < nb/1000 {
		return idm.Actor{}, nil, idm.Unauthorized("this account's credentials were reset after this session began; log in again")
	}
	return idm.Actor{UUID: e.UUID, Name: e.Name}, c, nil
}

// errorBody is the one error shape of the API.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("the request body is larger than %d bytes", MaxBody), Code: "too_large"})
		return
	}
	if s.writeReauthExternal(w, r, err) { // 403 reauth_external and its reauth_url (reauth_external.go)
		return
	}
	e := idm.AsError(err)
	if e.Status >= 500 && e.Code == "internal" {
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	writeJSON(w, e.Status, errorBody{Error: e.Msg, Code: e.Code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// refused with a reason.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return idm.Invalid("the request body is empty; JSON expected")
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return idm.Invalid("unknown field %s in the request body (see docs/api.md)", f)
		}
		return idm.Invalid("malformed JSON: %v", err)
	}
	if dec.More() {
		return idm.Invalid("malformed JSON: more than one value in the body")
	}
	return nil
}
