package apiclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Header names of the read-your-writes protocol (docs/api.md).
const (
	HeaderIndex    = "X-Gatehouse-Index"
	HeaderMinIndex = "X-Gatehouse-Min-Index"
)

// DefaultTimeout bounds one request. It is well above the server's 5 s
// min-index wait so that a slow-but-answering node yields its own 503 reason
// rather than a client-side timeout.
const DefaultTimeout = 30 * time.Second

// maxErrorBody caps how much of a non-JSON error body is quoted back.
const maxErrorBody = 512

// Error is a non-2xx answer from the server. Message is the server's reason
// (the "error" field of the body), meant to be shown to a person as is.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// Client talks to one node (or a load balancer in front of several).
type Client struct {
	base *url.URL
	http *http.Client

	mu    sync.Mutex
	token string

	// lastIndex is the highest X-Gatehouse-Index seen; it only grows, so
	// concurrent writes never move a reader back in time.
	lastIndex atomic.Uint64
	ryw       atomic.Bool
}

// New returns a client for baseURL (https only: Gatehouse has no plain HTTP
// listener). When caFile is given its PEM certificates are the only trusted
// roots, otherwise the system roots are used. token may be empty.
func New(baseURL, caFile, token string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must be https://host[:port]", baseURL)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		tlsConf.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	// The load generator runs many goroutines against one node; the default
	// of 2 idle connections per host would make it reconnect constantly.
	tr.MaxIdleConnsPerHost = 64
	return &Client{base: u, http: &http.Client{Transport: tr, Timeout: DefaultTimeout}, token: token}, nil
}

// BaseURL returns the server URL without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// Token returns the current bearer token ("" when none).
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// SetToken replaces the bearer token.
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
}

// SetReadYourWrites makes every later request carry X-Gatehouse-Min-Index
// with the highest commit index this client has seen, so a read on any node
// reflects this client's own writes.
func (c *Client) SetReadYourWrites(on bool) { c.ryw.Store(on) }

// LastIndex is the highest X-Gatehouse-Index this client has seen.
func (c *Client) LastIndex() uint64 { return c.lastIndex.Load() }

// ObserveIndex raises LastIndex to idx; tests use it to carry one client's
// write index to a client of another node.
func (c *Client) ObserveIndex(idx uint64) {
	for {
		cur := c.lastIndex.Load()
		if idx <= cur || c.lastIndex.CompareAndSwap(cur, idx) {
			return
		}
	}
}

// Do sends one request. in, when not nil, is encoded as the JSON body; out,
// when not nil, receives the decoded JSON answer. A non-2xx answer returns
// an *Error. The returned response's body is already consumed and closed;
// it is there for the status and headers.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (*http.Response, error) {
	return c.do(ctx, method, path, nil, in, out)
}

func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, in, out any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := c.Token(); tok != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if idx := c.lastIndex.Load(); c.ryw.Load() && idx > 0 {
		req.Header.Set(HeaderMinIndex, strconv.FormatUint(idx, 10))
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	if v := resp.Header.Get(HeaderIndex); v != "" {
		if idx, err := strconv.ParseUint(v, 10, 64); err == nil {
			c.ObserveIndex(idx)
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp, decodeError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body) // lets the connection be reused
		return resp, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp, fmt.Errorf("decode %s %s answer: %w", method, path, err)
	}
	return resp, nil
}

// decodeError turns an error answer into *Error. A body that is not the
// documented {"error","code"} (a proxy's HTML page, say) is quoted, shortened.
func decodeError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var body struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		e.Code, e.Message = body.Code, body.Error
		return e
	}
	msg := strings.TrimSpace(string(raw))
	if len(msg) > maxErrorBody {
		msg = msg[:maxErrorBody] + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Message = msg
	return e
}

// IsStatus reports whether err is an *Error with the given HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}
