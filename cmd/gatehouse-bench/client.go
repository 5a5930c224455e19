package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// client sends the benchmark's requests. One http.Transport is shared by all
// workers and nodes, as a real front end would: connection setup (TLS
// handshakes) must not be what the figures measure.
type client struct {
	hc    *http.Client
	token string
}

// newClient trusts only the dev cluster CA. HTTP/1.1 by default so that N
// workers are N connections, like N independent clients; h2 multiplexes them
// over one connection per node instead.
func newClient(caPath string, maxConns int, h2 bool) (*client, error) {
	pem, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caPath)
	}
	tlsConf := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if !h2 {
		tlsConf.NextProtos = []string{"http/1.1"}
	}
	tr := &http.Transport{
		TLSClientConfig:     tlsConf,
		ForceAttemptHTTP2:   h2,
		MaxIdleConns:        3 * maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &client{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// httpError is a non-expected status, with the server's reason.
type httpError struct {
	Status int
	Body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// do sends one JSON request and decodes the answer into out (when not nil).
// The body is always drained so the connection goes back to the pool.
func (c *client) do(ctx context.Context, method, u string, hdr http.Header, in, out any, want int) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, u, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, u, err)
	}
	if resp.StatusCode != want {
		if len(raw) > 300 {
			raw = raw[:300]
		}
		return resp.Header, &httpError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(raw))}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s: decode answer: %w", method, u, err)
		}
	}
	return resp.Header, nil
}

type authState struct {
	Choose   []string          `json:"choose"`
	Continue []json.RawMessage `json:"continue"`
	Denied   *string           `json:"denied"`
	Success  *string           `json:"success"`
}

type authAnswer struct {
	SessionID string    `json:"sessionid"`
	State     authState `json:"state"`
}

// authStep sends one step of POST /v1/auth with the in-flight session id
// (none for init) and returns the answer and the id for the next step. A
// denial is an error.
func (c *client) authStep(ctx context.Context, base, sid string, step any) (authAnswer, string, error) {
	hdr := http.Header{}
	if sid != "" {
		hdr.Set("X-Gatehouse-Auth-Session", sid)
	}
	var a authAnswer
	h, err := c.do(ctx, http.MethodPost, base+"/v1/auth", hdr, map[string]any{"step": step}, &a, http.StatusOK)
	if err != nil {
		return a, sid, err
	}
	if a.State.Denied != nil {
		return a, sid, fmt.Errorf("denied: %s", *a.State.Denied)
	}
	if a.SessionID != "" {
		sid = a.SessionID
	}
	if v := h.Get("X-Gatehouse-Auth-Session"); v != "" {
		sid = v
	}
	return a, sid, nil
}

// passwordSteps runs begin password and cred password after an init (or a
// reauth) that returned sid, and returns the session token.
func (c *client) passwordSteps(ctx context.Context, base, sid, password string) (string, error) {
	steps := []any{
		map[string]any{"begin": "password"},
		map[string]any{"cred": map[string]string{"password": password}},
	}
	for i, step := range steps {
		a, next, err := c.authStep(ctx, base, sid, step)
		if err != nil {
			return "", fmt.Errorf("login step %d: %w", i+2, err)
		}
		sid = next
		if i == len(steps)-1 {
			if a.State.Success == nil {
				return "", fmt.Errorf("login ended without success: %+v", a.State)
			}
			return *a.State.Success, nil
		}
	}
	return "", fmt.Errorf("unreachable")
}

// login runs the three steps of POST /v1/auth (init, begin password, cred)
// against base and returns the session token (read-only).
func (c *client) login(ctx context.Context, base, name, password string) (string, error) {
	_, sid, err := c.authStep(ctx, base, "", map[string]any{"init": name})
	if err != nil {
		return "", fmt.Errorf("login step 1: %w", err)
	}
	return c.passwordSteps(ctx, base, sid, password)
}

// reauth turns c's read-only session into a read-write one: POST
// /v1/reauth, then the password steps on /v1/auth. It returns the new
// token of the same session (c.token is left alone).
func (c *client) reauth(ctx context.Context, base, password string) (string, error) {
	var a authAnswer
	h, err := c.do(ctx, http.MethodPost, base+"/v1/reauth", nil, map[string]string{"issue": "token"}, &a, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("reauth: %w", err)
	}
	sid := a.SessionID
	if v := h.Get("X-Gatehouse-Auth-Session"); v != "" {
		sid = v
	}
	tok, err := c.passwordSteps(ctx, base, sid, password)
	if err != nil {
		return "", fmt.Errorf("reauth: %w", err)
	}
	return tok, nil
}

// passkeyLogin runs init, begin passkey and cred passkey; sign answers the
// server's request options (a software authenticator's Login).
func (c *client) passkeyLogin(ctx context.Context, base, name string, sign func(options json.RawMessage) (json.RawMessage, error)) (string, error) {
	_, sid, err := c.authStep(ctx, base, "", map[string]any{"init": name})
	if err != nil {
		return "", fmt.Errorf("passkey login init: %w", err)
	}
	a, sid, err := c.authStep(ctx, base, sid, map[string]any{"begin": "passkey"})
	if err != nil {
		return "", fmt.Errorf("passkey login begin: %w", err)
	}
	var ch map[string]json.RawMessage
	if len(a.State.Continue) != 1 || json.Unmarshal(a.State.Continue[0], &ch) != nil || ch["passkey"] == nil {
		return "", fmt.Errorf("passkey login begin: want one passkey challenge, got %+v", a.State)
	}
	cred, err := sign(ch["passkey"])
	if err != nil {
		return "", fmt.Errorf("passkey login: authenticator: %w", err)
	}
	a, _, err = c.authStep(ctx, base, sid, map[string]any{"cred": map[string]json.RawMessage{"passkey": cred}})
	if err != nil {
		return "", fmt.Errorf("passkey login cred: %w", err)
	}
	if a.State.Success == nil {
		return "", fmt.Errorf("passkey login ended without success: %+v", a.State)
	}
	return *a.State.Success, nil
}

func (c *client) createPerson(ctx context.Context, base, name string) error {
	_, err := c.do(ctx, http.MethodPost, base+"/v1/person",
		nil, map[string]any{"name": name, "displayname": "Bench " + name}, nil, http.StatusCreated)
	return err
}

// enrolPasskey gives person a passkey through the credential-update API:
// a reset token (c must be a read-write admin), a session opened with it,
// webauthn begin/finish with register answering the creation options, and
// the commit. It returns the commit's Raft index.
func (c *client) enrolPasskey(ctx context.Context, base, person string, register func(options json.RawMessage) (json.RawMessage, error)) (uint64, error) {
	var rt struct {
		Token string `json:"token"`
	}
	if _, err := c.do(ctx, http.MethodPost, base+"/v1/person/"+url.PathEscape(person)+"/credential/reset_token",
		nil, map[string]int{"ttl": 3600}, &rt, http.StatusOK); err != nil {
		return 0, fmt.Errorf("reset token for %s: %w", person, err)
	}
	anon := &client{hc: c.hc}
	var open struct {
		ID string `json:"id"`
	}
	if _, err := anon.do(ctx, http.MethodPost, base+"/v1/credential/update/reset", nil,
		map[string]string{"token": rt.Token}, &open, http.StatusOK); err != nil {
		return 0, fmt.Errorf("open credential update for %s: %w", person, err)
	}
	cu := base + "/v1/credential/update/" + url.PathEscape(open.ID)
	var begin struct {
		Options json.RawMessage `json:"options"`
	}
	if _, err := anon.do(ctx, http.MethodPost, cu+"/webauthn/begin", nil,
		map[string]string{"kind": "passkey", "label": "bench"}, &begin, http.StatusOK); err != nil {
		return 0, fmt.Errorf("webauthn begin for %s: %w", person, err)
	}
	cred, err := register(begin.Options)
	if err != nil {
		return 0, fmt.Errorf("authenticator register for %s: %w", person, err)
	}
	if _, err := anon.do(ctx, http.MethodPost, cu+"/webauthn/finish", nil,
		map[string]json.RawMessage{"credential": cred}, nil, http.StatusOK); err != nil {
		return 0, fmt.Errorf("webauthn finish for %s: %w", person, err)
	}
	var done struct {
		Index uint64 `json:"index"`
	}
	if _, err := anon.do(ctx, http.MethodPost, cu+"/commit", nil, nil, &done, http.StatusOK); err != nil {
		return 0, fmt.Errorf("commit credentials of %s: %w", person, err)
	}
	return done.Index, nil
}

func (c *client) getPerson(ctx context.Context, base, name string) error {
	_, err := c.do(ctx, http.MethodGet, base+"/v1/person/"+url.PathEscape(name), nil, nil, nil, http.StatusOK)
	return err
}

func (c *client) setPassword(ctx context.Context, base, name, pw string) error {
	_, err := c.do(ctx, http.MethodPost, base+"/v1/person/"+url.PathEscape(name)+"/password",
		nil, map[string]string{"password": pw}, nil, http.StatusNoContent)
	return err
}

// nodeStatus is the body of GET /status.
type nodeStatus struct {
	Status       string `json:"status"`
	Node         string `json:"node"`
	Leader       string `json:"leader"`
	AppliedIndex uint64 `json:"applied_index"`
}

func (c *client) status(ctx context.Context, base string) (*nodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var st nodeStatus
	if _, err := c.do(ctx, http.MethodGet, base+"/status", nil, nil, &st, http.StatusOK); err != nil {
		return nil, err
	}
	return &st, nil
}
