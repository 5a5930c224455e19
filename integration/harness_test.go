package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// bin is the gatehouse binary built once for the whole package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-it-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Cluster is a set of gatehouse server processes sharing one cluster CA.
type Cluster struct {
	t     *testing.T
	Dir   string // root of the test's files
	PKI   string // cluster init folder: ca.pem, keys, cluster-id
	CA    string // path of ca.pem
	Nodes []*Node
	// Extra lines appended to every node's [cluster] section.
	ClusterExtra string
	// ConfigExtra is appended to every node's configuration after the
	// [cluster] section: whole tables such as [webauthn].
	ConfigExtra string
}

// Node is one server process (running or not).
type Node struct {
	c           *Cluster
	ID          string
	Dir         string
	Config      string
	APIPort     int
	ClusterPort int
	GossipPort  int
	Log         string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	portsMu sync.Mutex
	handed  = map[int]bool{}
)

// freePort picks a free loopback port (TCP and UDP, since gossip uses
// both) below Linux's ephemeral range, so that no outgoing connection of
// another test can take it between this check and the server's bind, and
// never hands the same port out twice in one run.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for i := 0; i < 1000; i++ {
		port := 20000 + rand.IntN(12000)
		if handed[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			handed[port] = true
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// Gatehouse runs the binary to completion and returns its stdout.
func Gatehouse(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("gatehouse %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// NewCluster makes the PKI and configs for n nodes; nothing runs yet.
func NewCluster(t *testing.T, n int) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{t: t, Dir: dir, PKI: filepath.Join(dir, "pki")}
	if _, err := Gatehouse(t, "", "cluster", "init", c.PKI); err != nil {
		t.Fatal(err)
	}
	c.CA = filepath.Join(c.PKI, "ca.pem")
	for i := 0; i < n; i++ {
		c.AddNode()
	}
	t.Cleanup(c.StopAll)
	return c
}

// AddNode prepares one more node (not started).
func (c *Cluster) AddNode() *Node {
	t := c.t
	t.Helper()
	id := fmt.Sprintf("n%d", len(c.Nodes)+1)
	nd := &Node{c: c, ID: id, Dir: filepath.Join(c.Dir, id), APIPort: freePort(t), ClusterPort: freePort(t), GossipPort: freePort(t)}
	if err := os.MkdirAll(nd.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	nd.Config = filepath.Join(nd.Dir, "gatehouse.toml")
	nd.Log = filepath.Join(nd.Dir, "server.log")
	if _, err := Gatehouse(t, "", "cluster", "cert", "--ca-dir", c.PKI, "--node-id", id, "--host", "localhost", "--host", "127.0.0.1",
		"--out-cert", filepath.Join(nd.Dir, "node.pem"), "--out-key", filepath.Join(nd.Dir, "node.key")); err != nil {
		t.Fatal(err)
	}
	c.Nodes = append(c.Nodes, nd)
	return nd
}

// WriteConfig writes the node's TOML. join lists gossip addresses.
func (nd *Node) WriteConfig(bootstrapExpect int, join []string) {
	q := strconv.Quote
	js := make([]string, len(join))
	for i, j := range join {
		js[i] = q(j)
	}
	cfg := fmt.Sprintf(`node_id = %s
data_dir = "data"
domain = "example.com"
origin = "https://localhost"
log_level = "info"
audit_log = "audit.log"

[api]
listen = "127.0.0.1:%d"
tls_cert = "node.pem"
tls_key = "node.key"

[cluster]
listen = "127.0.0.1:%d"
gossip_listen = "127.0.0.1:%d"
ca = %s
cert = "node.pem"
key = "node.key"
gossip_key = %s
encryption_key = %s
cluster_id_file = %s
bootstrap_expect = %d
join = [%s]
%s
%s
`, q(nd.ID), nd.APIPort, nd.ClusterPort, nd.GossipPort, q(nd.c.CA), q(filepath.Join(nd.c.PKI, "gossip.key")),
		q(filepath.Join(nd.c.PKI, "encryption.key")), q(filepath.Join(nd.c.PKI, "cluster-id")),
		bootstrapExpect, strings.Join(js, ", "), nd.c.ClusterExtra, nd.c.ConfigExtra)
	if err := os.WriteFile(nd.Config, []byte(cfg), 0o600); err != nil {
		nd.c.t.Fatal(err)
	}
}

// GossipAddr is the node's gossip address.
func (nd *Node) GossipAddr() string { return fmt.Sprintf("127.0.0.1:%d", nd.GossipPort) }

// ClusterAddr is the node's mTLS cluster address.
func (nd *Node) ClusterAddr() string { return fmt.Sprintf("127.0.0.1:%d", nd.ClusterPort) }

// URL is the node's API base URL.
func (nd *Node) URL() string { return fmt.Sprintf("https://localhost:%d", nd.APIPort) }

// DataDir is where the node keeps raft.db, state.db and snapshots.
func (nd *Node) DataDir() string { return filepath.Join(nd.Dir, "data") }

// Start launches `gatehouse server` for the node.
func (nd *Node) Start() {
	t := nd.c.t
	t.Helper()
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd != nil {
		t.Fatalf("%s is already running", nd.ID)
	}
	logf, err := os.OpenFile(nd.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "--config", nd.Config)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nd.cmd, nd.done = cmd, make(chan struct{})
	done := nd.done
	go func() { cmd.Wait(); logf.Close(); close(done) }()
}

// Running reports whether the process is alive.
func (nd *Node) Running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return false
	}
	select {
	case <-nd.done:
		return false
	default:
		return true
	}
}

// PID of the running process (0 if none).
func (nd *Node) PID() int {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return 0
	}
	return nd.cmd.Process.Pid
}

func (nd *Node) signal(sig syscall.Signal, wait time.Duration) {
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.cmd = nil
	nd.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(wait):
		cmd.Process.Kill()
		<-done
	}
}

// Stop ends the process with SIGTERM (a restart, not a leave).
func (nd *Node) Stop() { nd.signal(syscall.SIGTERM, 15*time.Second) }

// Kill ends the process with SIGKILL, as a crash would.
func (nd *Node) Kill() { nd.signal(syscall.SIGKILL, 5*time.Second) }

// peersOf is the gossip address of every node but nd, in node order: the
// join list of nd's config.
func (c *Cluster) peersOf(nd *Node) []string {
	var others []string
	for _, o := range c.Nodes {
		if o.GossipAddr() != nd.GossipAddr() {
			others = append(others, o.GossipAddr())
		}
	}
	return others
}

// StartAll writes configs for a bootstrap-expect cluster of every node and
// starts them.
func (c *Cluster) StartAll() {
	for _, nd := range c.Nodes {
		nd.WriteConfig(len(c.Nodes), c.peersOf(nd))
		nd.Start()
	}
}

// StopAll stops every running node.
func (c *Cluster) StopAll() {
	var wg sync.WaitGroup
	for _, nd := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); nd.Stop() }()
	}
	wg.Wait()
	if c.t.Failed() {
		for _, nd := range c.Nodes {
			if b, err := os.ReadFile(nd.Log); err == nil {
				lines := strings.Split(string(b), "\n")
				c.t.Logf("--- last lines of %s's log:\n%s", nd.ID, strings.Join(lines[max(0, len(lines)-25):], "\n"))
			}
		}
	}
}

// HTTP returns a client that trusts the cluster CA.
func (c *Cluster) HTTP() *http.Client {
	pem, err := os.ReadFile(c.CA)
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
}

// NodeStatus is the body of /status.
type NodeStatus struct {
	Status       string `json:"status"`
	Node         string `json:"node"`
	Leader       string `json:"leader"`
	AppliedIndex uint64 `json:"applied_index"`
	Reason       string `json:"reason"`
}

// Status reads /status of a node; ok is false when it does not answer 200.
func (nd *Node) Status() (NodeStatus, bool) {
	var st NodeStatus
	resp, err := nd.c.HTTP().Get(nd.URL() + "/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&st)
	return st, resp.StatusCode == http.StatusOK
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitHealthy waits until every given node serves and they agree on a
// leader; it returns the leader node.
func (c *Cluster) WaitHealthy(nodes ...*Node) *Node {
	c.t.Helper()
	if len(nodes) == 0 {
		nodes = c.Nodes
	}
	var leader *Node
	Eventually(c.t, 60*time.Second, "a healthy cluster with one leader", func() bool {
		lid := ""
		for _, nd := range nodes {
			st, ok := nd.Status()
			if !ok || st.Leader == "" || (lid != "" && st.Leader != lid) {
				return false
			}
			lid = st.Leader
		}
		for _, nd := range c.Nodes {
			if nd.ID == lid {
				leader = nd
			}
		}
		return leader != nil
	})
	return leader
}

// Recover sets a fresh password for admin or idm_admin through nd.
func (c *Cluster) Recover(nd *Node, name string) string {
	c.t.Helper()
	out, err := Gatehouse(c.t, "", "recover-account", "--config", nd.Config, name)
	if err != nil {
		c.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Client is an API client for nd with the given token.
func (c *Cluster) Client(nd *Node, token string) *apiclient.Client {
	c.t.Helper()
	cl, err := apiclient.New(nd.URL(), c.CA, token)
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// Login logs name in at nd with a read-write session (a login followed by
// a reauthentication) and returns a client holding the token.
func (c *Cluster) Login(nd *Node, name, password string) *apiclient.Client {
	c.t.Helper()
	cl := c.Client(nd, "")
	if _, err := cl.LoginPrivileged(context.Background(), name, password); err != nil {
		c.t.Fatalf("login %s at %s: %v", name, nd.ID, err)
	}
	return cl
}

// Admin recovers idm_admin (or admin) and returns a logged-in client on nd.
func (c *Cluster) Admin(nd *Node, name string) (*apiclient.Client, string) {
	pw := c.Recover(nd, name)
	return c.Login(nd, name, pw), pw
}
