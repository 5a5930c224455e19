package daemon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrExited is returned by Start when the daemon ends before it is ready
// (a port taken, a bad configuration: its log says which).
var ErrExited = errors.New("exited at start")

// ErrNotReady is returned by Start when the daemon still runs but is not
// ready by the timeout; it has been killed.
var ErrNotReady = errors.New("not ready")

// Options says how to run and when the daemon is ready.
type Options struct {
	// Out is the file that gets the daemon's stdout and stderr, appended
	// (a retried start keeps the earlier attempt's lines for the failure).
	Out string
	// Ready reports whether the daemon serves (usually: its port accepts a
	// TCP connection; see Listening).
	Ready func() bool
	// Poll is the pause between Ready checks; Timeout is how long Start
	// waits in all (defaults 10 ms and 10 s).
	Poll, Timeout time.Duration
	// ParentDeath sends the daemon SIGTERM when the test binary ends
	// without reaching Stop (a panic or a timeout), so that it does not
	// hold its ports forever.
	ParentDeath bool
}

// Process is one running daemon, held by its PID.
type Process struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts cmd (not yet started; Stdout, Stderr and SysProcAttr are
// set here) in its own process group and waits until o.Ready. On
// ErrExited or ErrNotReady the process is gone when Start returns.
func Start(cmd *exec.Cmd, o Options) (*Process, error) {
	if o.Poll <= 0 {
		o.Poll = 10 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	logf, err := os.OpenFile(o.Out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if o.ParentDeath {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	deadline := time.Now().Add(o.Timeout)
	for {
		select {
		case <-done:
			return nil, ErrExited
		default:
		}
		if o.Ready() {
			return &Process{cmd: cmd, done: done}, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return nil, fmt.Errorf("%w after %v", ErrNotReady, o.Timeout)
		}
		time.Sleep(o.Poll)
	}
}

// PID is the daemon's process id (0 when stopped or nil).
func (p *Process) PID() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Stop ends the daemon by its PID (SIGTERM, then SIGKILL after 5 s) and
// waits for it. Safe on nil and more than once.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Listening reports whether addr (host:port) accepts a TCP connection.
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Tail is the last max bytes of the file at path, trimmed; "" when it
// cannot be read.
func Tail(path string, max int) string {
	b, _ := os.ReadFile(path)
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}

// FreePort finds a port free on 127.0.0.1 (for TCP, and for UDP too when
// udp is set), none of except, in 32000–32767: below Linux's ephemeral
// range, so that no outgoing connection takes it before the daemon binds
// it, and above the 20000–31999 the integration harness hands its nodes,
// so that a daemon never takes a port a node was promised but has not
// bound yet. It can still be taken before the daemon binds it: callers
// retry the start on another port.
func FreePort(udp bool, except ...int) (int, error) {
	for i := 0; i < 500; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(768))
		if err != nil {
			return 0, err
		}
		port := 32000 + int(n.Int64())
		if slices.Contains(except, port) {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if !udp {
			l.Close()
			return port, nil
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}
