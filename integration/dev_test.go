package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// devJSON is the documented shape of DIR/dev.json (docs/cli.md).
type devJSON struct {
	CA               string `json:"ca"`
	AdminPassword    string `json:"admin_password"`
	IDMAdminPassword string `json:"idm_admin_password"`
	Nodes            []struct {
		ID      string `json:"id"`
		API     string `json:"api"`
		PID     int    `json:"pid"`
		DataDir string `json:"data_dir"`
	} `json:"nodes"`
}

// devBasePort finds P such that the ports gatehouse dev uses for three
// nodes (P..P+2 API, P+100.. cluster, P+200.. gossip over TCP and UDP) are
// free right now.
func devBasePort(t *testing.T) int {
	t.Helper()
	free := func(port int, udp bool) bool {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		l.Close()
		if udp {
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				return false
			}
			u.Close()
		}
		return true
	}
next:
	for range 200 {
		p := 20000 + rand.IntN(20000)
		for i := range 3 {
			if !free(p+i, false) || !free(p+100+i, false) || !free(p+200+i, true) {
				continue next
			}
		}
		return p
	}
	t.Fatal("no free port range for gatehouse dev")
	return 0
}

// devRun is one foreground `gatehouse dev` process.
type devRun struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

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

func startDev(t *testing.T, dir string, port int) *devRun {
	t.Helper()
	os.Remove(filepath.Join(dir, "dev.json"))
	d := &devRun{out: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, "dev", "--dir", dir, "--base-port", fmt.Sprint(port))
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.stop(t)
		// Should dev itself have failed to stop its nodes, stop them here
		// by the pids it recorded.
		if info, err := readDevJSON(dir); err == nil {
			for _, n := range info.Nodes {
				if alive(n.PID) {
					t.Errorf("node %s (pid %d) outlived gatehouse dev; killing it", n.ID, n.PID)
					syscall.Kill(n.PID, syscall.SIGKILL)
				}
			}
		}
		if t.Failed() {
			t.Logf("--- gatehouse dev output:\n%s", d.out.String())
		}
	})
	return d
}

// stop sends SIGTERM and waits for dev to exit (it stops its nodes first).
func (d *devRun) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Errorf("gatehouse dev did not exit within 30 s of SIGTERM")
		d.cmd.Process.Kill()
		<-d.done
	}
}

func readDevJSON(dir string) (*devJSON, error) {
	b, err := os.ReadFile(filepath.Join(dir, "dev.json"))
	if err != nil {
		return nil, err
	}
	var info devJSON
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("dev.json: %w", err)
	}
	return &info, nil
}

// waitDevJSON waits until dev has written dev.json (it does so once the
// cluster is ready and the passwords are set).
func waitDevJSON(t *testing.T, d *devRun, dir string) *devJSON {
	t.Helper()
	var info *devJSON
	Eventually(t, 90*time.Second, "gatehouse dev writes dev.json", func() bool {
		select {
		case <-d.done:
			t.Fatalf("gatehouse dev exited early:\n%s", d.out.String())
		default:
		}
		i, err := readDevJSON(dir)
		if err != nil {
			return false
		}
		info = i
		return true
	})
	return info
}

func alive(pid int) bool {
	return pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestGatehouseDevRunsAClusterStopsItAndKeepsItsData(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	port := devBasePort(t)
	ctx := context.Background()

	d := startDev(t, dir, port)
	info := waitDevJSON(t, d, dir)
	if len(info.Nodes) != 3 || info.AdminPassword == "" || info.IDMAdminPassword == "" || info.CA == "" {
		t.Fatalf("dev.json lacks documented fields: %+v", info)
	}
	if _, err := os.Stat(info.CA); err != nil {
		t.Fatalf("dev.json ca: %v", err)
	}
	for i, n := range info.Nodes {
		want := fmt.Sprintf("https://localhost:%d", port+i)
		if n.ID != fmt.Sprintf("n%d", i+1) || n.API != want || !alive(n.PID) || n.DataDir == "" {
			t.Errorf("dev.json node %d: %+v (want api %s and a live pid)", i, n, want)
		}
		if _, err := os.Stat(filepath.Join(n.DataDir, "state.db")); err != nil {
			t.Errorf("node %s data dir: %v", n.ID, err)
		}
		cl, err := apiclient.New(n.API, info.CA, "")
		if err != nil {
			t.Fatal(err)
		}
		st, err := cl.Status(ctx)
		if err != nil {
			t.Errorf("%s /status: %v", n.ID, err)
		} else if st.Leader == "" {
			t.Errorf("%s /status names no leader: %+v", n.ID, st)
		}
	}
	admin, err := apiclient.New(info.Nodes[1].API, info.CA, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.LoginPrivileged(ctx, "admin", info.AdminPassword); err != nil {
		t.Fatalf("login admin with the password from dev.json: %v", err)
	}
	idm, _ := apiclient.New(info.Nodes[2].API, info.CA, "")
	if _, err := idm.LoginPrivileged(ctx, "idm_admin", info.IDMAdminPassword); err != nil {
		t.Fatalf("login idm_admin with the password from dev.json: %v", err)
	}
	kept, err := idm.CreatePerson(ctx, "kept", "Kept Across Runs", nil)
	if err != nil {
		t.Fatal(err)
	}

	// SIGTERM stops every node.
	d.stop(t)
	for _, n := range info.Nodes {
		if alive(n.PID) {
			t.Errorf("node %s (pid %d) still runs after gatehouse dev got SIGTERM", n.ID, n.PID)
		}
	}
	if d.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("gatehouse dev exited %d after SIGTERM", d.cmd.ProcessState.ExitCode())
	}

	// A second run over the same folder keeps the data.
	d2 := startDev(t, dir, port)
	info2 := waitDevJSON(t, d2, dir)
	for _, n := range info2.Nodes {
		cl, _ := apiclient.New(n.API, info2.CA, "")
		if _, err := cl.LoginPrivileged(ctx, "admin", info2.AdminPassword); err != nil {
			t.Fatalf("second run: login admin at %s: %v", n.ID, err)
		}
		got, err := cl.GetPerson(ctx, "kept")
		if err != nil || got.UUID != kept.UUID {
			t.Errorf("second run: %s lost the person of the first run: %+v %v", n.ID, got, err)
		}
	}
	d2.stop(t)
	for _, n := range info2.Nodes {
		if alive(n.PID) {
			t.Errorf("second run: node %s (pid %d) still runs after SIGTERM", n.ID, n.PID)
		}
	}
}
