package daemon

import (
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A daemon that is ready is held by its PID and gone after Stop; one that
// exits first is reported as ErrExited; one never ready is killed at the
// timeout.
func TestStartStop(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.log")
	p, err := Start(exec.Command("sleep", "30"), Options{Out: out, Ready: func() bool { return true }, ParentDeath: true})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if pid == 0 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("pid %d not running", pid)
	}
	p.Stop()
	p.Stop()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("after Stop: %v", err)
	}
	if p.PID() != 0 {
		t.Fatal("PID after Stop")
	}

	_, err = Start(exec.Command("sh", "-c", "echo bad config; exit 1"), Options{Out: out, Ready: func() bool { return false }})
	if !errors.Is(err, ErrExited) || Tail(out, 100) != "bad config" {
		t.Fatalf("exit at start: %v, log %q", err, Tail(out, 100))
	}

	_, err = Start(exec.Command("sleep", "30"), Options{Out: out, Ready: func() bool { return false }, Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("never ready: %v", err)
	}
}

func TestFreePort(t *testing.T) {
	a, err := FreePort(true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FreePort(false, a)
	if err != nil || a == b || a < 32000 || b > 32767 {
		t.Fatalf("ports %d %d: %v", a, b, err)
	}
}
