package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/ops/haproxy"
)

// balancer is HAProxy in front of the three nodes (ops/haproxy: TLS
// passthrough, round robin, health checks on /status over TLS). Clients
// keep verifying the nodes' certificates (which name localhost).
type balancer struct {
	Port int
	*haproxy.Proc
}

// URL is the balancer's address under the name the nodes' certificates
// carry; it is also the WebAuthn origin the nodes are configured to allow.
func (h *balancer) URL() string { return fmt.Sprintf("https://localhost:%d", h.Port) }

// freePort returns a port below Linux's ephemeral range (see freeBasePort)
// that is free now and is none of avoid.
func freePort(avoid func(int) bool) (int, error) {
	for range 100 {
		p := 10000 + rand.IntN(22000)
		if avoid(p) {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("no free port found in 100 tries")
}

// startBalancer starts HAProxy on 127.0.0.1:port in front of nodes and
// waits until every server is UP with a passing layer-7 check. The caller
// stops it with stop().
func startBalancer(ctx context.Context, port int, nodes []*node) (*balancer, error) {
	var backends []haproxy.Backend
	for _, n := range nodes {
		_, p, err := net.SplitHostPort(strings.TrimPrefix(n.API, "https://"))
		if err != nil {
			return nil, fmt.Errorf("node %s API %q: %w", n.ID, n.API, err)
		}
		backends = append(backends, haproxy.Backend{Name: n.ID, Addr: "127.0.0.1:" + p})
	}
	proc, err := haproxy.Start(fmt.Sprintf("127.0.0.1:%d", port), backends)
	if err != nil {
		return nil, err
	}
	h := &balancer{Port: port, Proc: proc}
	if err := proc.WaitAllUp(ctx, 30*time.Second); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// stop ends HAProxy by its PID. Safe on nil and more than once.
func (h *balancer) stop() {
	if h != nil {
		h.Proc.Stop()
	}
}
