// Package haproxy runs Debian's HAProxy as the load balancer in front of a
// cluster's API ports, the way docs/operations.md recommends: TLS
// passthrough (mode tcp), round robin, no stickiness, health checks on
// /status over TLS. Clients keep verifying the nodes' certificates end to
// end. The integration tests and the load generator both use it; Config is
// also the example configuration of the docs.
package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Bin is Debian's HAProxy (apt-get install haproxy).
const Bin = "/usr/sbin/haproxy"

// Backend is one node: its name and API address (host:port).
type Backend struct {
	Name string
	Addr string
}

// Config is the whole configuration: the balancer listens on listen and
// spreads connections round robin over backends. The stats socket is how a
// caller learns that every server is up; empty leaves it out.
func Config(listen, statsSocket string, backends []Backend) string {
	var b strings.Builder
	b.WriteString("global\n")
	if statsSocket != "" {
		fmt.Fprintf(&b, "    stats socket %s mode 600 level admin\n", statsSocket)
	}
	fmt.Fprintf(&b, `    maxconn 4096

defaults
    mode tcp
    timeout connect 2s
    timeout client 120s
    timeout server 120s

frontend gatehouse
    bind %s
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /status
`, listen)
	for _, be := range backends {
		// A node answering 503 on /status (no state, not initialised) is
		// taken out within about two seconds.
		fmt.Fprintf(&b, "    server %s %s check check-ssl verify none inter 1s fall 2 rise 2\n", be.Name, be.Addr)
	}
	return b.String()
}

// Proc is one running HAProxy.
type Proc struct {
	Listen string
	dir    string
	socket string
	log    string
	cmd    *exec.Cmd
	done   chan struct{}
}

// Start checks the configuration (haproxy -c) and starts HAProxy in the
// foreground, in its own process group, with its files in a new temporary
// folder. It does not wait for the servers: see WaitAllUp.
func Start(listen string, backends []Backend) (*Proc, error) {
	if _, err := os.Stat(Bin); err != nil {
		return nil, fmt.Errorf("HAProxy is required (apt-get install haproxy): %w", err)
	}
	// A short folder: a unix socket path is limited to 108 bytes.
	dir, err := os.MkdirTemp("", "hap")
	if err != nil {
		return nil, fmt.Errorf("haproxy dir: %w", err)
	}
	p := &Proc{Listen: listen, dir: dir, socket: filepath.Join(dir, "stats.sock"), log: filepath.Join(dir, "haproxy.log")}
	cfg := Config(listen, p.socket, backends)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write haproxy config: %w", err)
	}
	if out, err := exec.Command(Bin, "-c", "-f", path).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	logf, err := os.Create(p.log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("haproxy log: %w", err)
	}
	// -db: stay in the foreground, so that the PID we hold is HAProxy's.
	p.cmd = exec.Command(Bin, "-db", "-f", path)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); logf.Close(); close(p.done) }()
	return p, nil
}

// PID is HAProxy's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Log returns what HAProxy wrote so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// Stop ends HAProxy by its PID and removes its folder. Safe on nil and
// more than once.
func (p *Proc) Stop() {
	if p == nil || p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
	_ = os.RemoveAll(p.dir)
}

// Stats returns the backend's servers: name → "STATUS CHECK" (for
// example "UP L7OK").
func (p *Proc) Stats() (map[string]string, error) {
	conn, err := net.DialTimeout("unix", p.socket, 2*time.Second)
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
	return ParseStats(raw)
}

// ParseStats reads HAProxy's "show stat" CSV (its header line starts "# ").
func ParseStats(raw []byte) (map[string]string, error) {
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

// WaitAllUp waits until every server is UP with a passing layer-7 check
// (right after the start they show "UP 1/2" with the check still INI).
func (p *Proc) WaitAllUp(ctx context.Context, timeout time.Duration) error {
	var last map[string]string
	var lastErr error
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("haproxy exited:\n%s", p.Log())
		default:
		}
		last, lastErr = p.Stats()
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
