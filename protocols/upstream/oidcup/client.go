package oidcup

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// DefaultTimeout bounds one request to a provider when Config.Timeout is
// zero. go-oidc fetches the JWKS on a context of its own that never ends,
// one fetch at a time per provider: without a bound of ours, one provider
// that stops answering would hang that fetch, and with it every later
// login through the provider, until the node restarts.
const DefaultTimeout = 30 * time.Second

// errTooLarge is what reading past maxBody of any provider answer gives.
var errTooLarge = fmt.Errorf("the provider's answer is larger than %d bytes", maxBody)

// httpClient is the client every request to the provider goes through:
// the configured one (else http.DefaultClient) with a time bound on each
// request and a size bound on each answer. The size bound sits in the
// transport because go-oidc reads the JWKS (and quotes error bodies in its
// errors) without one of its own.
func httpClient(c Config) *http.Client {
	base := http.DefaultClient
	if c.HTTPClient != nil {
		base = c.HTTPClient
	}
	cl := *base
	switch {
	case c.Timeout > 0:
		cl.Timeout = c.Timeout
	case cl.Timeout == 0:
		cl.Timeout = DefaultTimeout
	}
	next := cl.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cl.Transport = limitTransport{next: next}
	return &cl
}

type limitTransport struct{ next http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxBody}
	return resp, nil
}

// limitedBody fails, rather than ends, past its limit, so that a cut-off
// answer is never taken for a whole one.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		if err == nil {
			return 0, nil
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
