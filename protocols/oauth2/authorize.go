package oauth2

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	idmoauth2 "github.com/gatehouse-idm/gatehouse/idm/oauth2"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is what travels between /oauth2/authorize and the code,
// sealed under the cluster key so that any node can continue it.
type authRequest struct {
	ClientID     string   `json:"c"`
	RedirectURI  string   `json:"r"`
	Scopes       []string `json:"s"`
	State        string   `json:"st,omitempty"`
	Nonce        string   `json:"n,omitempty"`
	Challenge    string   `json:"cc,omitempty"`
	ResponseMode string   `json:"rm,omitempty"`
	Expires      int64    `json:"e"`
	// Prompt is OIDC's prompt: "none", or any of "login" and "consent"
	// (select_account counts as login: we have one account per session).
	Prompt []string `json:"p,omitempty"`
	// MaxAge (seconds) is OIDC's max_age; -1 when not sent.
	MaxAge int64 `json:"ma,omitempty"`
	// Created (Unix ms): a login demanded by prompt=login must be newer.
	Created int64 `json:"t,omitempty"`
}

func (a authRequest) prompt(v string) bool { return slices.Contains(a.Prompt, v) }

// freshEnough reports whether a session's login satisfies prompt=login
// and max_age. One second of slack: iat has whole seconds.
func (a authRequest) freshEnough(sess *token.Claims, now time.Time) bool {
	at := sessionAuthTime(sess)
	if a.prompt("login") && at.Before(time.UnixMilli(a.Created).Add(-time.Second)) {
		return false
	}
	if a.MaxAge >= 0 && now.Sub(at) > time.Duration(a.MaxAge)*time.Second+time.Second {
		return false
	}
	return true
}

var aadAuthRequest = []byte("oauth2-authreq")

func (p *Provider) sealAuthRequest(a authRequest) (string, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	s, err := p.Sealer.Seal(b, aadAuthRequest)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s), nil
}

func (p *Provider) openAuthRequest(id string) (authRequest, error) {
	var a authRequest
	if id == "" || len(id) > 16384 {
		return a, errors.New("no sign-in request")
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return a, errors.New("the sign-in request is damaged")
	}
	plain, err := p.Sealer.Open(b, aadAuthRequest)
	if err != nil {
		return a, errors.New("the sign-in request is damaged or not from this cluster")
	}
	if err := json.Unmarshal(plain, &a); err != nil {
		return a, errors.New("the sign-in request is damaged")
	}
	if p.Now().UnixMilli() > a.Expires {
		return a, errors.New("the sign-in request has expired: go back to the application and start again")
	}
	return a, nil
}

// redirectAllowed: an exact match, or for a public client a loopback URI
// that differs from a registered loopback URI only by its port (RFC 8252).
func redirectAllowed(c *entry.Entry, uri string) bool {
	if uri == "" {
		return false
	}
	if slices.Contains(c.OAuth2.RedirectURIs, uri) {
		return true
	}
	if !c.OAuth2.Public {
		return false
	}
	u, ok := op.HTTPLoopbackOrLocalhost(uri)
	if !ok || u.Fragment != "" || u.User != nil {
		return false
	}
	for _, reg := range c.OAuth2.RedirectURIs {
		ru, ok := op.HTTPLoopbackOrLocalhost(reg)
		if ok && ru.Scheme == u.Scheme && ru.Hostname() == u.Hostname() && ru.Path == u.Path && ru.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

// redirectError sends an RFC 6749 §4.1.2.1 error to a validated redirect URI.
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, a authRequest, code, desc string) {
	v := url.Values{"error": {code}, "error_description": {desc}}
	if a.State != "" {
		v.Set("state", a.State)
	}
	v.Set("iss", p.Issuer)
	http.Redirect(w, r, withParams(a.RedirectURI, a.ResponseMode, v), http.StatusFound)
}

func withParams(uri, mode string, v url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	if mode == "fragment" {
		u.Fragment = ""
		return u.String() + "#" + v.Encode()
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// authorize is GET|POST /oauth2/authorize. Unknown parameters are ignored.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		p.errorPage(w, http.StatusMethodNotAllowed, "use GET or POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "the request could not be read")
		return
	}
	f := r.Form
	c, ok := p.lookupClient(f.Get("client_id"))
	if !ok {
		p.errorPage(w, http.StatusBadRequest, "unknown application (client_id): ask its administrator")
		return
	}
	a := authRequest{ClientID: c.Name, RedirectURI: f.Get("redirect_uri"), State: f.Get("state"), Nonce: f.Get("nonce"),
		Challenge: f.Get("code_challenge"), Expires: p.Now().Add(AuthRequestLife).UnixMilli()}
	if !redirectAllowed(c, a.RedirectURI) {
		p.Log.Info("oauth2: unregistered redirect uri", "client", c.Name, "redirect_uri", a.RedirectURI)
		p.errorPage(w, http.StatusBadRequest, "the application sent a redirect address that is not registered for it; nothing was sent back to it")
		return
	}
	switch m := f.Get("response_mode"); m {
	case "", "query":
	case "fragment":
		a.ResponseMode = m
	default:
		p.redirectError(w, r, a, "invalid_request", "response_mode must be query or fragment")
		return
	}
	if f.Get("response_type") != "code" {
		p.redirectError(w, r, a, "unsupported_response_type", "only response_type=code is supported")
		return
	}
	if f.Get("request") != "" || f.Get("request_uri") != "" {
		p.redirectError(w, r, a, "request_not_supported", "request objects are not supported")
		return
	}
	method := f.Get("code_challenge_method")
	switch {
	case a.Challenge == "" && (c.OAuth2.Public || !c.OAuth2.PKCEDisabled):
		p.redirectError(w, r, a, "invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
		return
	case a.Challenge != "" && method != "S256":
		p.redirectError(w, r, a, "invalid_request", "code_challenge_method must be S256 (plain is refused)")
		return
	case a.Challenge != "" && !validChallenge(a.Challenge):
		p.redirectError(w, r, a, "invalid_request", "code_challenge must be the base64url (no padding) SHA-256 of the verifier: 43 characters")
		return
	}
	a.Created, a.MaxAge = p.Now().UnixMilli(), -1
	for _, v := range strings.Fields(f.Get("prompt")) {
		switch v {
		case "none", "login", "consent":
			a.Prompt = append(a.Prompt, v)
		case "select_account":
			a.Prompt = append(a.Prompt, "login")
		default:
			p.redirectError(w, r, a, "invalid_request", "prompt may only hold none, login, consent or select_account")
			return
		}
	}
	if a.prompt("none") && len(a.Prompt) > 1 {
		p.redirectError(w, r, a, "invalid_request", "prompt=none cannot be combined with other values")
		return
	}
	if v := f.Get("max_age"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			p.redirectError(w, r, a, "invalid_request", "max_age must be a number of seconds")
			return
		}
		a.MaxAge = n
	}
	a.Scopes = idmoauth2.SplitScopes(f.Get("scope"))
	if len(a.Scopes) == 0 {
		p.redirectError(w, r, a, "invalid_scope", "no scope requested")
		return
	}
	if len(a.State) > 2048 || len(a.Nonce) > 2048 {
		p.redirectError(w, r, a, "invalid_request", "state and nonce are at most 2048 characters")
		return
	}
	id, err := p.sealAuthRequest(a)
	if err != nil {
		p.Log.Error("oauth2: seal auth request", "error", err)
		p.redirectError(w, r, a, "server_error", "the request could not be continued")
		return
	}
	http.Redirect(w, r, PathUIAuth+"?id="+id, http.StatusFound)
}

// login finds the browser's session: the cookie, else (Kerberos on) a
// Negotiate header. When there is none it answers (401 + login page, or a
// redirect to the login page) and returns nil.
func (p *Provider) login(w http.ResponseWriter, r *http.Request, next string, useCookie bool) *token.Claims {
	if _, c, err := p.Session(r); err == nil && useCookie {
		return c
	}
	if p.Negotiate != nil {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); strings.EqualFold(scheme, "Negotiate") {
			_, c, cookie, mutual, err := p.Negotiate(r)
			if err == nil {
				http.SetCookie(w, cookie)
				if mutual != "" {
					w.Header().Set("WWW-Authenticate", "Negotiate "+mutual)
				}
				return c
			}
			p.Log.Info("oauth2: negotiate login refused; showing the login page", "error", err)
		}
		w.Header().Set("WWW-Authenticate", "Negotiate")
		p.LoginPage(w, http.StatusUnauthorized, next)
		return nil
	}
	http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(next), http.StatusFound)
	return nil
}

// person checks the logged-in account: a person, enabled.
func (p *Provider) person(c *token.Claims) (*entry.Entry, error) {
	e, ok := p.State.Entry(c.Subject)
	if !ok || e.Class != entry.Person {
		return nil, errors.New("only persons sign in to applications")
	}
	if e.Disabled {
		return nil, errors.New("this account is disabled")
	}
	return e, nil
}

// pendingRequest opens a sealed auth request and finds its client, which
// must still exist and still list the redirect URI; otherwise it answers
// with the error page.
func (p *Provider) pendingRequest(w http.ResponseWriter, id string) (authRequest, *entry.Entry, bool) {
	a, err := p.openAuthRequest(id)
	if err != nil {
		p.errorPage(w, http.StatusBadRequest, err.Error())
		return a, nil, false
	}
	c, ok := p.lookupClient(a.ClientID)
	if !ok || !redirectAllowed(c, a.RedirectURI) {
		p.errorPage(w, http.StatusBadRequest, "the application is no longer registered here")
		return a, nil, false
	}
	return a, c, true
}

// uiAuthorize is GET /ui/oauth2/authorize?id=: login, then consent or the code.
func (p *Provider) uiAuthorize(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	a, c, ok := p.pendingRequest(w, id)
	if !ok {
		return
	}
	// A session that prompt=login or max_age finds too old counts as none:
	// the login page (or Negotiate) makes a new one, whose login time then
	// satisfies them.
	var sess *token.Claims
	if _, cur, err := p.Session(r); err == nil && a.freshEnough(cur, p.Now()) {
		sess = cur
	}
	if sess == nil && a.prompt("none") {
		p.redirectError(w, r, a, "login_required", "the user is not signed in (prompt=none)")
		return
	}
	if sess == nil {
		if sess = p.login(w, r, PathUIAuth+"?id="+id, false); sess == nil {
			return
		}
	}
	p.continueAuth(w, r, id, a, c, sess, false)
}

// continueAuth: with a session, decide scopes; remembered consent (or a
// consent just given) issues the code, else the consent page.
func (p *Provider) continueAuth(w http.ResponseWriter, r *http.Request, id string, a authRequest, c *entry.Entry, sess *token.Claims, consented bool) {
	acct, err := p.person(sess)
	if err != nil {
		p.redirectError(w, r, a, "access_denied", err.Error())
		return
	}
	granted, err := idmoauth2.GrantedScopes(p.State, c, acct.UUID, a.Scopes)
	if err != nil {
		p.record(&grantEvent{grant: grantAuthorize, client: c.Name, account: acct.Name, remote: r.RemoteAddr,
			result: resultDenied, reason: "access_denied: " + err.Error()}, nil)
		p.redirectError(w, r, a, "access_denied", err.Error())
		return
	}
	if !consented {
		// Remembered consent covers any request within the scopes consented
		// to; a scope beyond them asks again.
		// prompt=consent asks even so; prompt=none may not ask at all.
		prev, ok := p.State.OAuth2ConsentOf(acct.UUID, c.UUID)
		if !ok || !subset(granted, prev.Scopes) || len(prev.Scopes) == 0 || a.prompt("consent") {
			if a.prompt("none") {
				p.redirectError(w, r, a, "consent_required", "the user has not consented to these scopes (prompt=none)")
				return
			}
			p.consentPage(w, http.StatusOK, id, a, c, acct, sess, granted, "")
			return
		}
	}
	code := p.NodeID + "." + randomString(24)
	now := p.Now()
	p.codes.put(code, &codeGrant{clientUUID: c.UUID, clientID: c.Name, redirect: a.RedirectURI, challenge: a.Challenge,
		account: acct.UUID, scopes: granted, authTime: sessionAuthTime(sess), amr: idmoauth2.AMR(sess.Mechanism), nonce: a.Nonce,
		parent: sess.SessionID, limit: sess.Expiry.Time(), expires: now.Add(CodeLife)}, now)
	p.record(&grantEvent{grant: grantAuthorize, client: c.Name, account: acct.Name, scopes: granted, remote: r.RemoteAddr, result: resultSuccess}, nil)
	v := url.Values{"code": {code}, "iss": {p.Issuer}}
	if a.State != "" {
		v.Set("state", a.State)
	}
	http.Redirect(w, r, withParams(a.RedirectURI, a.ResponseMode, v), http.StatusFound)
}

func sessionAuthTime(c *token.Claims) time.Time {
	if c.IssuedAt != nil {
		return c.IssuedAt.Time()
	}
	return time.Time{}
}

// subset reports whether every scope of a is in b (both sorted).
func subset(a, b []string) bool {
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); !ok {
			return false
		}
	}
	return true
}

func (p *Provider) consentPage(w http.ResponseWriter, status int, id string, a authRequest, c, acct *entry.Entry, sess *token.Claims, scopes []string, errMsg string) {
	name := c.DisplayName
	if name == "" {
		name = c.Name
	}
	p.page(w, status, pageData{Title: "Allow " + name + "?", Consent: true, Client: name, Origin: c.OAuth2.Origin,
		Account: acct.Name, ID: id, Scopes: scopes, Error: errMsg, Form: p.formToken(bindConsent, sess.SessionID, id),
		FormTarget: cspSource(a.RedirectURI)})
}

// uiConsent is POST /ui/oauth2/consent. Besides cross-origin protection,
// the form carries a token bound to the login session and to this auth
// request (bind.go): a forged or transplanted form is refused.
func (p *Provider) uiConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "the form could not be read")
		return
	}
	id := r.PostForm.Get("id")
	a, c, ok := p.pendingRequest(w, id)
	if !ok {
		return
	}
	_, sess, err := p.Session(r)
	if err != nil {
		http.Redirect(w, r, PathUIAuth+"?id="+url.QueryEscape(id), http.StatusSeeOther)
		return
	}
	if !p.checkFormToken(bindConsent, r.PostForm.Get("form"), sess.SessionID, id) {
		p.Log.Warn("oauth2: consent form not bound to this session and request; refused", "client", c.Name, "account", sess.Subject)
		p.errorPage(w, http.StatusForbidden, "this consent form was not issued to your session for this request: go back to the application and start again")
		return
	}
	if r.PostForm.Get("decision") != "approve" {
		p.record(&grantEvent{grant: grantAuthorize, client: c.Name, account: p.State.NameOf(sess.Subject), remote: r.RemoteAddr,
			result: resultDenied, reason: "access_denied: the user denied the request"}, nil)
		p.redirectError(w, r, a, "access_denied", "the user denied the request")
		return
	}
	acct, err := p.person(sess)
	if err != nil {
		p.redirectError(w, r, a, "access_denied", err.Error())
		return
	}
	granted, err := idmoauth2.GrantedScopes(p.State, c, acct.UUID, a.Scopes)
	if err != nil {
		p.redirectError(w, r, a, "access_denied", err.Error())
		return
	}
	if err := p.Writer.RecordConsent(r.Context(), acct.UUID, c.UUID, granted); err != nil {
		p.Log.Warn("oauth2: consent not recorded", "account", acct.Name, "client", c.Name, "error", err)
		p.consentPage(w, http.StatusServiceUnavailable, id, a, c, acct, sess, granted,
			"Your consent could not be recorded: the cluster has no leader right now. Try again in a moment. ("+err.Error()+")")
		return
	}
	p.continueAuth(w, r, id, a, c, sess, true)
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
