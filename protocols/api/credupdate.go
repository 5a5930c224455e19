package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/credupdate"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// CredUpdateDeps are the collaborators of the credential-update routes.
type CredUpdateDeps struct {
	// CredUpdate holds this node's credential-update sessions; nil answers
	// 503 on those routes.
	CredUpdate *credupdate.Manager
	// Origin is the public base URL of the web pages (https://idm.example.com),
	// used in reset-token links; empty falls back to the request's host.
	Origin string
}

// Credential updates (docs/api.md, docs/credentials.md). Opening one for
// oneself, and every change and the commit inside it, need a read-write
// session at the time of the request; reading its status, checking a
// password and cancelling need only the same login. Opening one with a
// reset token needs nothing else. The per-session routes are public at the router because a
// reset session has no login: each checks the caller against the session
// (the opener's login session, or, for reset sessions, possession of the
// unguessable id). They are forwarded to the node that holds the session
// before anything else (rule 5).
func (s *Server) routesCredUpdate(route routeFunc) {
	const base = "/v1/credential/update"
	route("POST "+base, readWrite, s.cuOpen)
	route("POST "+base+"/reset", public, s.cuOpenReset)
	route("GET "+base+"/{id}", public, s.cuSession(s.cuStatus))
	route("DELETE "+base+"/{id}", public, s.cuSession(s.cuCancel))
	route("POST "+base+"/{id}/password", public, s.cuSession(s.cuPassword))
	route("DELETE "+base+"/{id}/password", public, s.cuSession(s.cuRemovePassword))
	route("POST "+base+"/{id}/password/check", public, s.cuSession(s.cuCheckPassword))
	route("POST "+base+"/{id}/totp/generate", public, s.cuSession(s.cuTOTPGenerate))
	route("POST "+base+"/{id}/totp/verify", public, s.cuSession(s.cuTOTPVerify))
	route("DELETE "+base+"/{id}/totp/{tid}", public, s.cuSession(s.cuTOTPRemove))
	route("POST "+base+"/{id}/webauthn/begin", public, s.cuSession(s.cuWebAuthnBegin))
	route("POST "+base+"/{id}/webauthn/finish", public, s.cuSession(s.cuWebAuthnFinish))
	route("DELETE "+base+"/{id}/webauthn/{cid}", public, s.cuSession(s.cuWebAuthnRemove))
	route("POST "+base+"/{id}/commit", public, s.cuSession(s.cuCommit))

	route("POST /v1/person/{id}/credential/reset_token", readWrite, s.cuResetToken)
	route("POST /v1/person/{id}/credential/softlock_reset", readWrite, s.cuSoftlockReset)
	route("POST /v1/service_account/{id}/credential/softlock_reset", readWrite, s.cuSoftlockReset)
	route("POST /v1/service_account/{id}/credential/generate", readWrite, s.cuGenerate)
}

// openBody answers the opening of a session.
type openBody struct {
	ID     string            `json:"id"`
	Status credupdate.Status `json:"status"`
}

func (s *Server) credUpdate() (*credupdate.Manager, error) {
	if s.CredUpdate == nil {
		return nil, idm.Unavailable("credential updates are not available on this node")
	}
	return s.CredUpdate, nil
}

func (s *Server) cuOpen(r *http.Request, a idm.Actor) (result, error) {
	m, err := s.credUpdate()
	if err != nil {
		return result{}, err
	}
	c := claimsOf(r)
	id, st, err := m.Open(r.Context(), credupdate.Caller{SessionID: c.SessionID, Account: a.UUID, ReadWrite: c.ReadWrite(s.Now())})
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: openBody{ID: id, Status: st}}, nil
}

func (s *Server) cuOpenReset(r *http.Request, _ idm.Actor) (result, error) {
	m, err := s.credUpdate()
	if err != nil {
		return result{}, err
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	id, st, err := m.OpenReset(r.Context(), strings.TrimSpace(in.Token))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: openBody{ID: id, Status: st}}, nil
}

type cuHandler func(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error)

// cuSession forwards a per-session request to the session's node, then
// identifies the caller for the manager's ownership check.
func (s *Server) cuSession(h cuHandler) handlerFunc {
	return func(r *http.Request, _ idm.Actor) (result, error) {
		id := r.PathValue("id")
		if owner := auth.Owner(id); s.ownerElsewhere(r, owner) {
			return s.forwardTo(owner, r)
		}
		m, err := s.credUpdate()
		if err != nil {
			return result{}, err
		}
		return h(r, m, id, s.cuCaller(r))
	}
}

// cuCaller is the login session of the request, if it carries a valid one,
// and whether it is read-write now: the manager asks for that on every
// change and on the commit of a session opened by a login (the privilege
// window may close while the update is open). A missing or refused token
// is not an error here: reset sessions need none, and a session bound to
// a login refuses a caller without it.
func (s *Server) cuCaller(r *http.Request) credupdate.Caller {
	if sessionToken(r) == "" {
		return credupdate.Caller{}
	}
	a, c, err := s.authenticate(r)
	if err != nil {
		return credupdate.Caller{}
	}
	return credupdate.Caller{SessionID: c.SessionID, Account: a.UUID, ReadWrite: c.ReadWrite(s.Now())}
}

func statusResult(st credupdate.Status, err error) (result, error) {
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: st}, nil
}

func (s *Server) cuStatus(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	return statusResult(m.Status(id, c))
}

func (s *Server) cuCancel(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	if err := m.Cancel(id, c); err != nil {
		return result{}, err
	}
	return result{status: http.StatusNoContent}, nil
}

type cuPasswordBody struct {
	Password string `json:"password"`
}

// feedbackBody is zxcvbn's advice, as the web page and the CLI show it.
type feedbackBody struct {
	Warning     string   `json:"warning"`
	Suggestions []string `json:"suggestions"`
}

// qualityBody is the 400 answer to a refused password.
type qualityBody struct {
	Error    string       `json:"error"`
	Code     string       `json:"code"`
	Feedback feedbackBody `json:"feedback"`
}

func feedbackOf(qe *credupdate.QualityError) feedbackBody {
	f := feedbackBody{Warning: qe.Feedback.Warning, Suggestions: qe.Feedback.Suggestions}
	if f.Suggestions == nil {
		f.Suggestions = []string{}
	}
	return f
}

func (s *Server) cuPassword(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	var in cuPasswordBody
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	st, err := m.SetPassword(r.Context(), id, c, in.Password)
	var qe *credupdate.QualityError
	if errors.As(err, &qe) {
		return result{status: http.StatusBadRequest, body: qualityBody{Error: qe.Error(), Code: "password_quality", Feedback: feedbackOf(qe)}}, nil
	}
	return statusResult(st, err)
}

func (s *Server) cuRemovePassword(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	return statusResult(m.RemovePassword(id, c))
}

func (s *Server) cuCheckPassword(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	var in cuPasswordBody
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	type checkBody struct {
		OK       bool          `json:"ok"`
		Error    string        `json:"error,omitempty"`
		Feedback *feedbackBody `json:"feedback,omitempty"`
	}
	err := m.CheckPassword(id, c, in.Password)
	var qe *credupdate.QualityError
	switch {
	case err == nil:
		return result{status: http.StatusOK, body: checkBody{OK: true}}, nil
	case errors.As(err, &qe):
		f := feedbackOf(qe)
		return result{status: http.StatusOK, body: checkBody{Error: qe.Error(), Feedback: &f}}, nil
	}
	var ie *idm.Error
	if errors.As(err, &ie) && ie.Code == "invalid" {
		return result{status: http.StatusOK, body: checkBody{Error: ie.Msg}}, nil
	}
	return result{}, err
}

func (s *Server) cuTOTPGenerate(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	var in struct {
		Label     string `json:"label"`
		Algorithm string `json:"algorithm"`
	}
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	en, err := m.GenerateTOTP(id, c, in.Label, in.Algorithm)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: map[string]any{"id": en.Cred.ID, "label": en.Cred.Label, "algorithm": en.Cred.Algorithm,
		"uri": en.URI, "secret": en.Secret, "qr_png": en.PNG}}, nil
}

// totpCode accepts a code as a string ("012345") or a number (12345).
type totpCode string

func (t *totpCode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = totpCode(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("code must be a string of digits")
	}
	v := n.String()
	for len(v) < 6 {
		v = "0" + v
	}
	*t = totpCode(v)
	return nil
}

func (s *Server) cuTOTPVerify(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	var in struct {
		Code       totpCode `json:"code"`
		AcceptSHA1 bool     `json:"accept_sha1"`
	}
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	return statusResult(m.VerifyTOTP(id, c, string(in.Code), in.AcceptSHA1))
}

func (s *Server) cuTOTPRemove(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	return statusResult(m.RemoveTOTP(id, c, r.PathValue("tid")))
}

func (s *Server) cuWebAuthnBegin(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	var in struct {
		Kind  string `json:"kind"`
		Label string `json:"label"`
	}
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	kind, err := credupdate.ParseKind(in.Kind)
	if err != nil {
		return result{}, err
	}
	opts, err := m.BeginWebAuthn(id, c, kind, in.Label)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: map[string]json.RawMessage{"options": opts}}, nil
}

func (s *Server) cuWebAuthnFinish(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	var in struct {
		Credential json.RawMessage `json:"credential"`
	}
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	if len(in.Credential) == 0 {
		return result{}, idm.Invalid("credential (the PublicKeyCredential from navigator.credentials.create) is required")
	}
	return statusResult(m.FinishWebAuthn(id, c, in.Credential))
}

func (s *Server) cuWebAuthnRemove(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	return statusResult(m.RemoveWebAuthn(id, c, r.PathValue("cid")))
}

func (s *Server) cuCommit(r *http.Request, m *credupdate.Manager, id string, c credupdate.Caller) (result, error) {
	idx, err := m.Commit(r.Context(), id, c)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, index: idx, body: map[string]uint64{"index": idx}}, nil
}

// decodeOptional decodes a JSON body when there is one.
func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decode(r, v)
}

func (s *Server) cuResetToken(r *http.Request, a idm.Actor) (result, error) {
	var in struct {
		TTL int64 `json:"ttl"` // seconds; 0: one hour
	}
	if err := decodeOptional(r, &in); err != nil {
		return result{}, err
	}
	if in.TTL < 0 || in.TTL > int64(idm.MaxResetTTL/time.Second) {
		return result{}, idm.Invalid("ttl is between 60 and %d seconds", int64(idm.MaxResetTTL/time.Second))
	}
	acct, ok := s.Svc.Lookup(r.PathValue("id"))
	if !ok || acct.Class != entry.Person {
		return result{}, idm.NotFound("no person named %q", r.PathValue("id"))
	}
	tok, exp, err := s.Svc.CreateResetToken(r.Context(), a, acct.UUID, time.Duration(in.TTL)*time.Second)
	if err != nil {
		return result{}, err
	}
	origin := strings.TrimRight(s.Origin, "/")
	if origin == "" {
		origin = "https://" + r.Host
	}
	// The token rides in the fragment: browsers never send it to a server
	// or a proxy, nor log it, and the page removes it on arrival.
	return result{status: http.StatusOK, body: map[string]any{"token": tok, "expires": exp.UTC(),
		"url": origin + "/ui/reset#token=" + url.QueryEscape(tok)}}, nil
}

func (s *Server) cuSoftlockReset(r *http.Request, a idm.Actor) (result, error) {
	if err := s.Svc.SoftlockReset(r.Context(), a, r.PathValue("id")); err != nil {
		return result{}, err
	}
	return result{status: http.StatusNoContent}, nil
}

func (s *Server) cuGenerate(r *http.Request, a idm.Actor) (result, error) {
	m, err := s.credUpdate()
	if err != nil {
		return result{}, err
	}
	pw, idx, err := m.GeneratePassword(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, index: idx, body: map[string]string{"password": pw}}, nil
}
