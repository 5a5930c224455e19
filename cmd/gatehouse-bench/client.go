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
	Choose  []string `json:"choose"`
	Denied  *string  `json:"denied"`
	Success *string  `json:"success"`
}

type authAnswer struct {
	SessionID string    `json:"sessionid"`
	State     authState `json:"state"`
}

// login runs the three steps of POST /v1/auth (init, begin password, cred)
// against base and returns the session token.
func (c *client) login(ctx context.Context, base, name, password string) (string, error) {
	steps := []any{
		map[string]any{"init": name},
		map[string]any{"begin": "password"},
		map[string]any{"cred": map[string]string{"password": password}},
	}
	sid := ""
	for i, step := range steps {
		hdr := http.Header{}
		if sid != "" {
			hdr.Set("X-Gatehouse-Auth-Session", sid)
		}
		var a authAnswer
		h, err := c.do(ctx, http.MethodPost, base+"/v1/auth", hdr, map[string]any{"step": step}, &a, http.StatusOK)
		if err != nil {
			return "", fmt.Errorf("login step %d: %w", i+1, err)
		}
		if a.State.Denied != nil {
			return "", fmt.Errorf("login step %d denied: %s", i+1, *a.State.Denied)
		}
		sid = a.SessionID
		if v := h.Get("X-Gatehouse-Auth-Session"); v != "" {
			sid = v
		}
		if i == len(steps)-1 {
			if a.State.Success == nil {
				return "", fmt.Errorf("login ended without success: %+v", a.State)
			}
			return *a.State.Success, nil
		}
	}
	return "", fmt.Errorf("unreachable")
}

func (c *client) createPerson(ctx context.Context, base, name string) error {
	_, err := c.do(ctx, http.MethodPost, base+"/v1/person",
		nil, map[string]any{"name": name, "displayname": "Bench " + name}, nil, http.StatusCreated)
	return err
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
