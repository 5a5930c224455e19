package integration

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// haproxyBin is Debian's HAProxy; the tests that need it fail without it.
const haproxyBin = "/usr/sbin/haproxy"

// HAProxy is a load balancer in front of a cluster's API ports: TLS
// passthrough (mode tcp), round robin, no stickiness, health checks on
// /status over TLS. Clients keep verifying the nodes' certificates (which
// name localhost) end to end.
type HAProxy struct {
	Port   int
	Dir    string
	socket string
	cmd    *exec.Cmd
	done   chan struct{}
	log    string
}

// StartHAProxy starts HAProxy on 127.0.0.1:port (0: a free port) in front
// of nodes and waits until every server is UP with a passing L7 check.
// It is stopped by its PID when the test ends.
func StartHAProxy(t *testing.T, port int, nodes []*Node) *HAProxy {
	t.Helper()
	if _, err := os.Stat(haproxyBin); err != nil {
		t.Fatalf("HAProxy is required (apt-get install haproxy): %v", err)
	}
	if port == 0 {
		port = freePort(t)
	}
	// A short folder: a unix socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "hap")
	if err != nil {
		t.Fatal(err)
	}
	h := &HAProxy{Port: port, Dir: dir, socket: filepath.Join(dir, "stats.sock"), log: filepath.Join(dir, "haproxy.log")}
	var servers strings.Builder
	for _, nd := range nodes {
		fmt.Fprintf(&servers, "    server %s 127.0.0.1:%d check check-ssl verify none inter 1s fall 2 rise 2\n", nd.ID, nd.APIPort)
	}
	cfg := fmt.Sprintf(`global
    stats socket %s mode 600 level admin
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend gatehouse
    bind 127.0.0.1:%d
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /status
%s`, h.socket, port, servers.String())
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxyBin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	logf, err := os.Create(h.log)
	if err != nil {
		t.Fatal(err)
	}
	// -db: stay in the foreground, so that the PID we hold is HAProxy's.
	h.cmd = exec.Command(haproxyBin, "-db", "-f", path)
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	h.done = make(chan struct{})
	go func() { h.cmd.Wait(); logf.Close(); close(h.done) }()
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		<-h.done
		if t.Failed() {
			b, _ := os.ReadFile(h.log)
			t.Logf("--- haproxy log:\n%s", b)
		}
		os.RemoveAll(dir)
	})
	h.WaitAllUp(t, 30*time.Second)
	return h
}

// URL is the balancer's address under the name the nodes' certificates
// carry (and the WebAuthn origin the tests configure).
func (h *HAProxy) URL() string { return fmt.Sprintf("https://localhost:%d", h.Port) }

// Stats returns the servers of the backend: name → "STATUS CHECK" (for
// example "UP L7OK").
func (h *HAProxy) Stats() (map[string]string, error) {
	conn, err := net.DialTimeout("unix", h.socket, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("stats socket: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, fmt.Errorf("stats socket: %w", err)
	}
	raw, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil {
		return nil, fmt.Errorf("stats socket: %w", err)
	}
	raw = bytes.TrimPrefix(bytes.TrimSpace(raw), []byte("# "))
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 1 {
		return nil, fmt.Errorf("stats csv: %v: %q", err, raw)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	out := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) <= col["check_status"] || row[col["pxname"]] != "nodes" {
			continue
		}
		sv := row[col["svname"]]
		if sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		out[sv] = row[col["status"]] + " " + row[col["check_status"]]
	}
	return out, nil
}

// WaitAllUp waits until every server is UP with a passing layer-7 check
// (right after start they show "UP 1/2" with the check still INI).
func (h *HAProxy) WaitAllUp(t *testing.T, timeout time.Duration) {
	t.Helper()
	var last map[string]string
	var lastErr error
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-h.done:
			b, _ := os.ReadFile(h.log)
			t.Fatalf("haproxy exited:\n%s", b)
		default:
		}
		last, lastErr = h.Stats()
		ok := lastErr == nil && len(last) > 0
		for _, s := range last {
			if s != "UP L7OK" {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy servers not all UP/L7OK after %s: %v %v", timeout, last, lastErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

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
