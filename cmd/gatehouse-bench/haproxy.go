package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// haproxyBin is Debian's HAProxy (apt-get install haproxy).
const haproxyBin = "/usr/sbin/haproxy"

// balancer is one HAProxy process in front of the three nodes: TLS
// passthrough (mode tcp), round robin, health checks on /status over TLS.
// Clients keep verifying the nodes' certificates (which name localhost).
type balancer struct {
	Port   int
	dir    string
	socket string
	log    string
	cmd    *exec.Cmd
	done   chan struct{}
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

// haproxyConfig is the whole configuration: the stats socket is how the
// benchmark learns that every server is up.
func haproxyConfig(socket string, port int, nodes []*node) (string, error) {
	var servers strings.Builder
	for _, n := range nodes {
		_, p, err := net.SplitHostPort(strings.TrimPrefix(n.API, "https://"))
		if err != nil {
			return "", fmt.Errorf("node %s API %q: %w", n.ID, n.API, err)
		}
		fmt.Fprintf(&servers, "    server %s 127.0.0.1:%s check check-ssl verify none inter 1s fall 2 rise 2\n", n.ID, p)
	}
	return fmt.Sprintf(`global
    stats socket %s mode 600 level admin
    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 120s
    timeout server 120s

frontend gatehouse
    bind 127.0.0.1:%d
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /status
%s`, socket, port, servers.String()), nil
}

// startBalancer starts HAProxy on 127.0.0.1:port in front of nodes and
// waits until every server is UP with a passing layer-7 check. The caller
// stops it with stop().
func startBalancer(ctx context.Context, port int, nodes []*node) (*balancer, error) {
	if _, err := os.Stat(haproxyBin); err != nil {
		return nil, fmt.Errorf("HAProxy is required (apt-get install haproxy): %w", err)
	}
	// A short folder of its own: a unix socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ghb-hap")
	if err != nil {
		return nil, fmt.Errorf("haproxy dir: %w", err)
	}
	h := &balancer{Port: port, dir: dir, socket: filepath.Join(dir, "stats.sock"), log: filepath.Join(dir, "haproxy.log")}
	cfg, err := haproxyConfig(h.socket, port, nodes)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write haproxy config: %w", err)
	}
	if out, err := exec.Command(haproxyBin, "-c", "-f", path).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("haproxy -c: %v\n%s", err, out)
	}
	logf, err := os.Create(h.log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("haproxy log: %w", err)
	}
	// -db: stay in the foreground, so that the PID we hold is HAProxy's;
	// own process group, so a terminal Ctrl-C reaches only the benchmark.
	h.cmd = exec.Command(haproxyBin, "-db", "-f", path)
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	h.done = make(chan struct{})
	go func() { _ = h.cmd.Wait(); logf.Close(); close(h.done) }()
	if err := h.waitAllUp(ctx, 30*time.Second); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// PID is HAProxy's process id.
func (h *balancer) PID() int { return h.cmd.Process.Pid }

// stop ends HAProxy by its PID (SIGTERM is HAProxy's immediate stop) and
// removes its folder. Safe on nil and more than once.
func (h *balancer) stop() {
	if h == nil || h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
	h.cmd = nil
	_ = os.RemoveAll(h.dir)
}

// stats returns the backend's servers: name → "STATUS CHECK" (e.g. "UP L7OK").
func (h *balancer) stats() (map[string]string, error) {
	conn, err := net.DialTimeout("unix", h.socket, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("stats socket: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return nil, fmt.Errorf("stats socket: %w", err)
	}
	raw, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil {
		return nil, fmt.Errorf("stats socket: %w", err)
	}
	return parseStats(raw)
}

// parseStats reads HAProxy's "show stat" CSV (header line starts "# ").
func parseStats(raw []byte) (map[string]string, error) {
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
	for _, c := range []string{"pxname", "svname", "status", "check_status"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("stats csv has no %s column", c)
		}
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

// waitAllUp waits until every server is UP with a passing layer-7 check
// (right after the start they show "UP 1/2" with the check still INI).
func (h *balancer) waitAllUp(ctx context.Context, timeout time.Duration) error {
	var last map[string]string
	var lastErr error
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-h.done:
			b, _ := os.ReadFile(h.log)
			return fmt.Errorf("haproxy exited:\n%s", b)
		default:
		}
		last, lastErr = h.stats()
		ok := lastErr == nil && len(last) > 0
		for _, s := range last {
			if s != "UP L7OK" {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy servers not all UP/L7OK after %s: %v %v", timeout, last, lastErr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
