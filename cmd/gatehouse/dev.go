package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/ops/pki"
)

// devCommand is `gatehouse dev`: a whole cluster on this machine, for trying
// Gatehouse out. It makes dev certificates and configs on the first run,
// starts one `gatehouse server` child per node, waits for a leader, sets the
// admin passwords, writes DIR/dev.json and stays in the foreground.
func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run a local multi-node cluster with generated dev certificates (Ctrl-C stops it)",
		Description: "The first run creates DIR/cluster (CA and keys) and DIR/nN (certificate, gatehouse.toml, data).\n" +
			"Later runs with the same DIR keep the data. Node N listens on 127.0.0.1:P+N-1 (API),\n" +
			"P+100+N-1 (cluster mTLS) and P+200+N-1 (gossip). DIR/dev.json lists the nodes, the CA and\n" +
			"the admin passwords, which are reset on every run.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: ".gatehouse-dev", Usage: "folder for the dev cluster's certificates, configs, data and logs"},
			&cli.IntFlag{Name: "nodes", Value: 3, Usage: "number of nodes"},
			&cli.IntFlag{Name: "base-port", Value: 8443, Usage: "API port of the first node (P)"},
		},
		Action: func(c *cli.Context) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("dev: find own executable: %w", err)
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDev(ctx, devOptions{
				Dir:      c.String("dir"),
				Nodes:    c.Int("nodes"),
				BasePort: c.Int("base-port"),
				Out:      c.App.Writer,
				Command:  func(args ...string) *exec.Cmd { return exec.Command(exe, args...) },
				Exe:      exe,
			})
		},
	}
}

type devOptions struct {
	Dir      string
	Nodes    int
	BasePort int
	Out      io.Writer
	// Command builds a child `gatehouse` invocation; tests substitute a fake.
	Command func(args ...string) *exec.Cmd
	// Exe is only used to print the CLI commands to try.
	Exe string
	// ReadyTimeout bounds the wait for every node and a leader (default 60 s).
	ReadyTimeout time.Duration
	// StopTimeout is how long a child gets after SIGTERM before SIGKILL (default 10 s).
	StopTimeout time.Duration
}

type devNode struct {
	ID      string `json:"id"`
	API     string `json:"api"`
	PID     int    `json:"pid"`
	DataDir string `json:"data_dir"`
	config  string
	apiPort int
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
	logFile *os.File
	logPath string
}

type devInfo struct {
	CA               string     `json:"ca"`
	AdminPassword    string     `json:"admin_password"`
	IDMAdminPassword string     `json:"idm_admin_password"`
	Nodes            []*devNode `json:"nodes"`
}

func runDev(ctx context.Context, o devOptions) error {
	if o.Nodes < 1 {
		return errors.New("dev: --nodes must be at least 1")
	}
	if o.BasePort < 1 || o.BasePort+200+o.Nodes > 65535 {
		return fmt.Errorf("dev: --base-port %d leaves no room for %d nodes (ports P..P+200+N must exist)", o.BasePort, o.Nodes)
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 10 * time.Second
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	nodes, err := prepareDev(dir, o.Nodes, o.BasePort, o.Out)
	if err != nil {
		return err
	}
	caPath := filepath.Join(dir, "cluster", pki.CAFile)

	// From here on every exit path must stop the children.
	defer stopDevNodes(nodes, o.StopTimeout, o.Out)
	anyExit := make(chan *devNode, len(nodes))
	for _, n := range nodes {
		if err := startDevNode(n, o.Command, anyExit); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "started %s (pid %d), log %s\n", n.ID, n.PID, n.logPath)
	}

	if err := waitDevReady(ctx, nodes, caPath, o.ReadyTimeout, anyExit, o.Out); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(o.Out, "interrupted, stopping the nodes")
			return nil
		}
		return err
	}

	info := devInfo{CA: caPath, Nodes: nodes}
	for _, acct := range []struct {
		name string
		dst  *string
	}{{"admin", &info.AdminPassword}, {"idm_admin", &info.IDMAdminPassword}} {
		pw, err := recoverDevAccount(ctx, o.Command, nodes[0].config, acct.name)
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(o.Out, "interrupted, stopping the nodes")
				return nil
			}
			return err
		}
		*acct.dst = pw
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("dev: encode dev.json: %w", err)
	}
	infoPath := filepath.Join(dir, "dev.json")
	if err := os.WriteFile(infoPath, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("dev: write %s: %w", infoPath, err)
	}
	printDevBanner(o.Out, o.Exe, info, infoPath)

	select {
	case <-ctx.Done():
		fmt.Fprintln(o.Out, "\nstopping the dev cluster")
		return nil
	case n := <-anyExit:
		return fmt.Errorf("dev: node %s exited unexpectedly (%v); see %s; stopping the others", n.ID, n.exitErr, n.logPath)
	}
}

// prepareDev creates what is missing: the cluster credentials once, a
// certificate per node once, and the node configs (rewritten every run so the
// flags always win; the data folders are kept).
func prepareDev(dir string, count, base int, out io.Writer) ([]*devNode, error) {
	clusterDir := filepath.Join(dir, "cluster")
	if _, err := os.Stat(filepath.Join(clusterDir, pki.CAFile)); errors.Is(err, os.ErrNotExist) {
		if err := pki.Init(clusterDir); err != nil {
			return nil, fmt.Errorf("dev: %w", err)
		}
		fmt.Fprintf(out, "created dev cluster CA and keys in %s\n", clusterDir)
	} else if err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	var nodes []*devNode
	for i := range count {
		id := "n" + strconv.Itoa(i+1)
		nodeDir := filepath.Join(dir, id)
		certPath, keyPath := filepath.Join(nodeDir, "node.pem"), filepath.Join(nodeDir, "node.key")
		if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
			if err := pki.IssueNodeCert(clusterDir, id, []string{"localhost", "127.0.0.1"}, 0, certPath, keyPath); err != nil {
				return nil, fmt.Errorf("dev: %w", err)
			}
		}
		var join []string
		for j := range count {
			if j != i {
				join = append(join, fmt.Sprintf("127.0.0.1:%d", base+200+j))
			}
		}
		cfgPath := filepath.Join(nodeDir, "gatehouse.toml")
		if err := os.WriteFile(cfgPath, []byte(devConfig(id, base, i, count, join)), 0o600); err != nil {
			return nil, fmt.Errorf("dev: write %s: %w", cfgPath, err)
		}
		nodes = append(nodes, &devNode{
			ID:      id,
			API:     fmt.Sprintf("https://localhost:%d", base+i),
			DataDir: filepath.Join(nodeDir, "data"),
			config:  cfgPath,
			apiPort: base + i,
			logPath: filepath.Join(nodeDir, "server.log"),
		})
	}
	return nodes, nil
}

// devConfig uses paths relative to the config's folder so the whole dev
// folder can be moved.
func devConfig(id string, base, i, count int, join []string) string {
	q := func(s string) string { return strconv.Quote(s) }
	joins := make([]string, len(join))
	for k, j := range join {
		joins[k] = q(j)
	}
	return fmt.Sprintf(`# Generated by gatehouse dev; rewritten on every run.
node_id = %s
data_dir = "data"
domain = "localhost"
origin = %s
log_level = "info"
audit_log = "audit.log"

[api]
listen = %s
tls_cert = "node.pem"
tls_key = "node.key"

[cluster]
listen = %s
gossip_listen = %s
ca = "../cluster/ca.pem"
cert = "node.pem"
key = "node.key"
gossip_key = "../cluster/gossip.key"
encryption_key = "../cluster/encryption.key"
cluster_id_file = "../cluster/cluster-id"
bootstrap_expect = %d
join = [%s]
`, q(id), q(fmt.Sprintf("https://localhost:%d", base)), q(fmt.Sprintf("127.0.0.1:%d", base+i)),
		q(fmt.Sprintf("127.0.0.1:%d", base+100+i)), q(fmt.Sprintf("127.0.0.1:%d", base+200+i)),
		count, strings.Join(joins, ", "))
}

func startDevNode(n *devNode, command func(...string) *exec.Cmd, anyExit chan<- *devNode) error {
	if err := os.MkdirAll(n.DataDir, 0o700); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	f, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("dev: open log: %w", err)
	}
	fmt.Fprintf(f, "---- gatehouse dev: starting %s at %s\n", n.ID, time.Now().Format(time.RFC3339))
	cmd := command("server", "--config", n.config)
	cmd.Stdout, cmd.Stderr = f, f
	// A process group of its own: the terminal's Ctrl-C reaches only us, and
	// we stop the children in order (SIGTERM, then SIGKILL).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("dev: start %s: %w", n.ID, err)
	}
	n.cmd, n.PID, n.logFile, n.exited = cmd, cmd.Process.Pid, f, make(chan struct{})
	go func() {
		n.exitErr = cmd.Wait()
		if n.exitErr == nil {
			n.exitErr = errors.New("exit status 0")
		}
		close(n.exited)
		anyExit <- n
	}()
	return nil
}

func stopDevNodes(nodes []*devNode, timeout time.Duration, out io.Writer) {
	for _, n := range nodes {
		if n.cmd != nil {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(timeout)
	for _, n := range nodes {
		if n.cmd == nil {
			continue
		}
		select {
		case <-n.exited:
		case <-deadline:
			fmt.Fprintf(out, "%s did not stop within %v, killing it\n", n.ID, timeout)
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		n.logFile.Close()
		fmt.Fprintf(out, "stopped %s\n", n.ID)
	}
}

type devStatus struct {
	Status string `json:"status"`
	Node   string `json:"node"`
	Leader string `json:"leader"`
}

// waitDevReady polls every node's /status over TLS with the dev CA until all
// answer 200 and one of them names a leader.
func waitDevReady(ctx context.Context, nodes []*devNode, caPath string, timeout time.Duration, anyExit <-chan *devNode, out io.Writer) error {
	pool, err := pki.CertPool(caPath)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	lastReport := time.Time{}
	for {
		ready, leader := 0, ""
		var waiting []string
		for _, n := range nodes {
			st, err := probeDevStatus(ctx, client, n.apiPort)
			switch {
			case err != nil:
				waiting = append(waiting, n.ID+": "+err.Error())
			default:
				ready++
				if st.Leader != "" {
					leader = st.Leader
				}
			}
		}
		if ready == len(nodes) && leader != "" {
			fmt.Fprintf(out, "all %d nodes are up; leader is %s\n", len(nodes), leader)
			return nil
		}
		if time.Since(lastReport) >= 3*time.Second {
			lastReport = time.Now()
			msg := fmt.Sprintf("waiting for the cluster: %d/%d nodes up", ready, len(nodes))
			if ready == len(nodes) {
				msg += ", no leader yet"
			}
			if len(waiting) > 0 {
				msg += " (" + strings.Join(waiting, "; ") + ")"
			}
			fmt.Fprintln(out, msg)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dev: the cluster was not ready within %v; see the server.log of each node", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n := <-anyExit:
			return fmt.Errorf("dev: node %s exited during startup (%v); see %s", n.ID, n.exitErr, n.logPath)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func probeDevStatus(ctx context.Context, client *http.Client, port int) (*devStatus, error) {
	// localhost, not 127.0.0.1, so the probe checks the name the user will use.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://localhost:%d/status", port), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "connection refused") {
			return nil, errors.New("not listening yet")
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var st devStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("bad /status body: %w", err)
	}
	return &st, nil
}

// recoverDevAccount runs `recover-account` and takes the last line of its
// stdout as the new password (the command's documented contract).
func recoverDevAccount(ctx context.Context, command func(...string) *exec.Cmd, cfg, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := command("recover-account", "--config", cfg, name)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("dev: recover-account %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		err = ctx.Err()
	}
	if err != nil {
		return "", fmt.Errorf("dev: recover-account %s: %w\nstdout: %s\nstderr: %s", name, err,
			strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	pw := strings.TrimSpace(lines[len(lines)-1])
	if pw == "" {
		return "", fmt.Errorf("dev: recover-account %s printed no password (stderr: %s)", name, strings.TrimSpace(stderr.String()))
	}
	return pw, nil
}

func printDevBanner(out io.Writer, exe string, info devInfo, infoPath string) {
	if exe == "" {
		exe = "gatehouse"
	}
	url := info.Nodes[0].API
	fmt.Fprintf(out, "\nGatehouse dev cluster is running (%s)\n\n", infoPath)
	for _, n := range info.Nodes {
		fmt.Fprintf(out, "  %-4s %s  pid %d  data %s\n", n.ID, n.API, n.PID, n.DataDir)
	}
	fmt.Fprintf(out, "\n  CA                  %s\n", info.CA)
	fmt.Fprintf(out, "  admin password      %s\n", info.AdminPassword)
	fmt.Fprintf(out, "  idm_admin password  %s\n\n", info.IDMAdminPassword)
	fmt.Fprintf(out, "Try:\n")
	fmt.Fprintf(out, "  export GATEHOUSE_URL=%s GATEHOUSE_CA=%s\n", url, info.CA)
	fmt.Fprintf(out, "  %s login --url %s --ca %s --name idm_admin --privileged\n", exe, url, info.CA)
	fmt.Fprintf(out, "  %s person create alice \"Alice Example\"\n", exe)
	fmt.Fprintf(out, "  %s person get alice\n", exe)
	fmt.Fprintf(out, "  %s group create devs && %s group add-members devs alice\n", exe, exe)
	fmt.Fprintf(out, "  %s cluster status --config %s\n", exe, info.Nodes[0].config)
	fmt.Fprintf(out, "  curl --cacert %s %s/status\n\n", info.CA, url)
	fmt.Fprintf(out, "Ctrl-C stops every node; running `gatehouse dev` again with the same --dir keeps the data.\n")
}
