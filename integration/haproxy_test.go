package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/ops/haproxy"
)

// HAProxy is the load balancer of ops/haproxy in front of a cluster's API
// ports: TLS passthrough, round robin, no stickiness, health checks on
// /status over TLS.
type HAProxy struct {
	Port int
	*haproxy.Proc
}

// StartHAProxy starts HAProxy on 127.0.0.1:port (0: a free port) in front
// of nodes and waits until every server is UP with a passing L7 check.
// It is stopped by its PID when the test ends; a missing HAProxy fails the
// test.
func StartHAProxy(t *testing.T, port int, nodes []*Node) *HAProxy {
	t.Helper()
	if port == 0 {
		port = freePort(t)
	}
	var backends []haproxy.Backend
	for _, nd := range nodes {
		backends = append(backends, haproxy.Backend{Name: nd.ID, Addr: fmt.Sprintf("127.0.0.1:%d", nd.APIPort)})
	}
	proc, err := haproxy.Start(fmt.Sprintf("127.0.0.1:%d", port), backends)
	if err != nil {
		t.Fatal(err)
	}
	h := &HAProxy{Port: port, Proc: proc}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- haproxy log:\n%s", proc.Log())
		}
		proc.Stop()
	})
	if err := proc.WaitAllUp(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return h
}

// URL is the balancer's address under the name the nodes' certificates
// carry (and the WebAuthn origin the tests configure).
func (h *HAProxy) URL() string { return fmt.Sprintf("https://localhost:%d", h.Port) }

// Client is an HTTP client for the balancer that opens a new connection
// for every request, so that round robin spreads single requests (and so
// the steps of one login) over the nodes; a kept-alive connection would
// stay on one node.
func (h *HAProxy) Client(t testing.TB, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
	}}
}
