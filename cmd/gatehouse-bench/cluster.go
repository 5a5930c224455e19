package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// devInfo is the part of DIR/dev.json the benchmark needs.
type devInfo struct {
	CA               string `json:"ca"`
	AdminPassword    string `json:"admin_password"`
	IDMAdminPassword string `json:"idm_admin_password"`
	Nodes            []struct {
		ID  string `json:"id"`
		API string `json:"api"`
	} `json:"nodes"`
}

// node is one `gatehouse server` process the benchmark owns.
type node struct {
	ID     string
	API    string
	config string
	log    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// PID is the running process's id, 0 when stopped.
func (n *node) PID() int {
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// cluster is the benchmark's three nodes. Every process it starts is stopped
// by stop(), which main defers right after creation.
type cluster struct {
	bin   string
	dir   string
	info  devInfo
	nodes []*node
	dev   *exec.Cmd
}

// freeBasePort finds P such that the nine ports dev derives from it (API
// P..P+2, cluster P+100.., gossip P+200.., TCP and UDP) are free now. P
// stays below Linux's ephemeral range (32768 up) so that no outgoing
// connection can take one of the ports between this check and the nodes' start.
func freeBasePort() (int, error) {
	for range 100 {
		p := 10000 + rand.IntN(22000)
		if portsFree(p) {
			return p, nil
		}
	}
	return 0, errors.New("no free base port found in 100 tries")
}

func portsFree(p int) bool {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for _, off := range []int{0, 1, 2, 100, 101, 102, 200, 201, 202} {
		addr := fmt.Sprintf("127.0.0.1:%d", p+off)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, l.Close)
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, u.Close)
	}
	return true
}

// startCluster lets `gatehouse dev` make the certificates, configs and admin
// passwords, stops it (which stops its children), then runs the three
// servers itself from the configs dev wrote. Owning the PIDs is what lets the
// restart measurement stop and start one node. origins are extra WebAuthn
// origins (the balancer's) added to every node's config, so that passkey
// logins through HAProxy pass the origin check. extraTOML, when not empty,
// is appended to every node's config too (the [kerberos] table).
func startCluster(ctx context.Context, bin, dir string, basePort int, origins []string, extraTOML string) (*cluster, error) {
	c := &cluster{bin: bin, dir: dir}
	devLog, err := os.Create(filepath.Join(dir, "dev.log"))
	if err != nil {
		return c, fmt.Errorf("create dev log: %w", err)
	}
	defer devLog.Close()
	c.dev = exec.Command(bin, "dev", "--dir", dir, "--base-port", strconv.Itoa(basePort))
	c.dev.Stdout, c.dev.Stderr = devLog, devLog
	c.dev.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.dev.Start(); err != nil {
		return c, fmt.Errorf("start %s dev: %w", bin, err)
	}
	devDone := make(chan error, 1)
	go func() { devDone <- c.dev.Wait() }()

	infoPath := filepath.Join(dir, "dev.json")
	deadline := time.Now().Add(90 * time.Second)
	for {
		if raw, err := os.ReadFile(infoPath); err == nil && json.Unmarshal(raw, &c.info) == nil && len(c.info.Nodes) > 0 {
			break
		}
		select {
		case err := <-devDone:
			c.dev = nil
			return c, fmt.Errorf("gatehouse dev exited before writing dev.json (%v); see %s", err, devLog.Name())
		case <-ctx.Done():
			c.stopDev(devDone)
			return c, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stopDev(devDone)
			return c, fmt.Errorf("gatehouse dev wrote no dev.json within 90 s; see %s", devLog.Name())
		}
	}
	c.stopDev(devDone)

	for _, n := range c.info.Nodes {
		nd := &node{ID: n.ID, API: n.API,
			config: filepath.Join(dir, n.ID, "gatehouse.toml"),
			log:    filepath.Join(dir, n.ID, "bench-server.log")}
		c.nodes = append(c.nodes, nd)
		if err := addWebAuthnOrigins(nd.config, origins); err != nil {
			return c, err
		}
		if err := appendConfig(nd.config, extraTOML); err != nil {
			return c, err
		}
		if err := c.startNode(nd); err != nil {
			return c, err
		}
	}
	return c, nil
}

// addWebAuthnOrigins appends a [webauthn] table to a config dev wrote (dev
// writes none; it is stopped by now, so it cannot rewrite the file).
func addWebAuthnOrigins(path string, origins []string) error {
	if len(origins) == 0 {
		return nil
	}
	q := make([]string, len(origins))
	for i, o := range origins {
		q[i] = strconv.Quote(o)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("add webauthn origins: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Added by gatehouse-bench: the HAProxy front end.\n[webauthn]\norigins = [%s]\n", strings.Join(q, ", "))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("add webauthn origins to %s: %w", path, err)
	}
	return nil
}

// appendConfig appends text (whole TOML tables) to a config dev wrote.
func appendConfig(path, text string) error {
	if text == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("extend config %s: %w", path, err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extend config %s: %w", path, err)
	}
	return nil
}

// stopDev ends `gatehouse dev`, which stops its own server children first.
func (c *cluster) stopDev(done <-chan error) {
	if c.dev == nil {
		return
	}
	_ = c.dev.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		slog.Warn("gatehouse dev did not stop within 20 s; killing its process group")
		_ = syscall.Kill(-c.dev.Process.Pid, syscall.SIGKILL)
		<-done
	}
	c.dev = nil
}

func (c *cluster) startNode(n *node) error {
	f, err := os.OpenFile(n.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s log: %w", n.ID, err)
	}
	cmd := exec.Command(c.bin, "server", "--config", n.config)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group: a terminal Ctrl-C reaches only the benchmark, which
	// then stops the nodes in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", n.ID, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(n.exited)
	}()
	return nil
}

// stopNode sends SIGTERM and waits (SIGKILL after timeout).
func (c *cluster) stopNode(n *node, timeout time.Duration) {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(timeout):
		slog.Warn("node did not stop after SIGTERM; killing it", "node", n.ID, "pid", n.PID())
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}

// stop ends every process the cluster started. Safe to call more than once.
func (c *cluster) stop() {
	if c.dev != nil {
		_ = c.dev.Process.Signal(syscall.SIGTERM)
		_ = c.dev.Wait()
		c.dev = nil
	}
	for _, n := range c.nodes {
		if n.cmd != nil {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, n := range c.nodes {
		c.stopNode(n, 15*time.Second)
	}
}

// waitReady polls /status until every node answers 200 and one names a
// leader; it returns the leader's node.
func (c *cluster) waitReady(ctx context.Context, cl *client, timeout time.Duration) (*node, error) {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ready, leader := 0, ""
		for _, n := range c.nodes {
			st, err := cl.status(ctx, n.API)
			if err != nil {
				last = fmt.Errorf("%s: %w", n.ID, err)
				continue
			}
			ready++
			if st.Leader != "" {
				leader = st.Leader
			}
		}
		if ready == len(c.nodes) && leader != "" {
			if ln := c.byID(leader); ln != nil {
				return ln, nil
			}
		}
		for _, n := range c.nodes {
			select {
			case <-n.exited:
				return nil, fmt.Errorf("node %s exited during startup; see %s", n.ID, n.log)
			default:
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster not ready within %v (last: %v)", timeout, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *cluster) byID(id string) *node {
	for _, n := range c.nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// rssKiB reads VmRSS from /proc/PID/status.
func rssKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				return strconv.ParseInt(fields[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
