package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/ops/config"
)

// TestDevHelperProcess is not a test: it is the fake `gatehouse` that the
// dev tests start as a child (the real server is tested elsewhere). It serves
// /status over TLS from the generated config, and fakes recover-account.
func TestDevHelperProcess(t *testing.T) {
	if os.Getenv("GATEHOUSE_DEV_HELPER") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	switch args[0] {
	case "recover-account":
		fmt.Println("some log line")
		fmt.Println("pw-for-" + args[len(args)-1])
		os.Exit(0)
	case "server":
		c, err := config.Load(args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := c.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if os.Getenv("GATEHOUSE_DEV_HELPER_DIE") == c.NodeID {
			time.Sleep(300 * time.Millisecond)
			os.Exit(3)
		}
		cert, err := tls.LoadX509KeyPair(c.API.TLSCert, c.API.TLSKey)
		if err != nil {
			os.Exit(1)
		}
		srv := &http.Server{
			Addr:      c.API.Listen,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(map[string]any{"status": "ok", "node": c.NodeID, "leader": "n1"})
			}),
		}
		fmt.Fprintln(os.Stderr, srv.ListenAndServeTLS("", ""))
		os.Exit(1)
	}
	os.Exit(2)
}

func helperCommand(env ...string) func(args ...string) *exec.Cmd {
	return func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestDevHelperProcess$", "--"}, args...)...)
		cmd.Env = append(os.Environ(), append([]string{"GATEHOUSE_DEV_HELPER=1"}, env...)...)
		return cmd
	}
}

// freeBase finds P such that P..P+n-1, P+100.., P+200.. are free right now.
func freeBase(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base+200+n > 65535 {
			continue
		}
		ok := true
		for _, off := range []int{0, 100, 200} {
			for i := range n {
				l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+off+i))
				if err != nil {
					ok = false
					break
				}
				l.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// syncBuffer is written by runDev while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDevStartsNodesWritesDevJSONAndStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	base := freeBase(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, devOptions{Dir: dir, Nodes: 2, BasePort: base, Out: out, Command: helperCommand(),
			ReadyTimeout: 20 * time.Second, StopTimeout: 5 * time.Second})
	}()

	infoPath := filepath.Join(dir, "dev.json")
	deadline := time.Now().Add(25 * time.Second)
	for {
		if _, err := os.Stat(infoPath); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("runDev returned early: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("dev.json never appeared:\n%s", out.String())
		}
	}
	var info devInfo
	data, _ := os.ReadFile(infoPath)
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	if info.AdminPassword != "pw-for-admin" || info.IDMAdminPassword != "pw-for-idm_admin" {
		t.Errorf("passwords = %q, %q", info.AdminPassword, info.IDMAdminPassword)
	}
	if len(info.Nodes) != 2 || info.Nodes[1].API != fmt.Sprintf("https://localhost:%d", base+1) || info.Nodes[0].PID == 0 {
		t.Errorf("nodes = %s", data)
	}
	cfg, err := config.Load(filepath.Join(dir, "n2", "gatehouse.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.BootstrapExpect != 2 || len(cfg.Cluster.Join) != 1 || cfg.Cluster.Join[0] != fmt.Sprintf("127.0.0.1:%d", base+200) {
		t.Errorf("n2 config: %+v", cfg.Cluster)
	}
	pid := info.Nodes[0].PID

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runDev after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("runDev did not stop")
	}
	// Signal 0 only checks that the process exists.
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("child %d still running after stop", pid)
	}
	if !strings.Contains(out.String(), "stopped n2") {
		t.Errorf("output lacks stop messages:\n%s", out.String())
	}
}

func TestDevReportsADyingNode(t *testing.T) {
	dir := t.TempDir()
	base := freeBase(t, 2)
	out := &syncBuffer{}
	err := runDev(context.Background(), devOptions{Dir: dir, Nodes: 2, BasePort: base, Out: out,
		Command: helperCommand("GATEHOUSE_DEV_HELPER_DIE=n2"), ReadyTimeout: 20 * time.Second, StopTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "node n2 exited") {
		t.Fatalf("runDev = %v, want a report that n2 exited\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "stopped n1") {
		t.Errorf("n1 was not stopped:\n%s", out.String())
	}
}
