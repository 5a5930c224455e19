package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// chromiumPath is Debian's package (scripts/install-browser-deps.sh).
const chromiumPath = "/usr/bin/chromium"

// browserPassword is alice's password, set through the reset page: strong
// enough for zxcvbn's top score and in no badlist.
const browserPassword = "quartz-lantern-47-oxbow-marigold"

// browserPrereqs fails (never skips) when the browser test cannot run, and
// says how to install what is missing.
func browserPrereqs(t *testing.T) (node, driverDir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: run scripts/install-browser-deps.sh (%v)", err)
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: run scripts/install-browser-deps.sh (%v)", chromiumPath, err)
	}
	driverDir, err = filepath.Abs("browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(driverDir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed in %s: run scripts/install-browser-deps.sh (npm ci) (%v)", driverDir, err)
	}
	return node, driverDir
}

// driver is the running Node process and its step protocol.
type driver struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan map[string]any
	done  chan struct{}
}

func startDriver(t *testing.T, node, dir string, cfg map[string]any) *driver {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "driver.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATEHOUSE_BROWSER_CONFIG="+string(raw))
	// Its own process group, so that a hung Chromium can be ended with the
	// driver (by the driver's PID, as the group's id).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := os.Create(filepath.Join(cfg["artifacts"].(string), "driver.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the browser driver: %v", err)
	}
	d := &driver{t: t, cmd: cmd, stdin: stdin, lines: make(chan map[string]any, 16), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"error": "driver printed non-JSON: " + sc.Text()}
			}
			d.lines <- m
		}
		close(d.lines)
	}()
	go func() { cmd.Wait(); stderr.Close(); close(d.done) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			if b, err := os.ReadFile(stderr.Name()); err == nil {
				lines := strings.Split(string(b), "\n")
				t.Logf("--- last lines of the browser driver's log (%s):\n%s", stderr.Name(), strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
		}
	})
	return d
}

// stop ends the driver: SIGTERM (it closes Chromium), then SIGKILL to its
// process group if it has not gone within 10 s.
func (d *driver) stop() {
	d.stdin.Close()
	select {
	case <-d.done:
		return
	default:
	}
	pid := d.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-d.done
	}
}

// expect waits for the driver to report step and returns its data.
func (d *driver) expect(step string) map[string]any {
	d.t.Helper()
	select {
	case m, ok := <-d.lines:
		if !ok {
			d.t.Fatalf("the browser driver ended before step %s (see its log below)", step)
		}
		if e, ok := m["error"]; ok {
			d.t.Fatalf("browser driver failed before step %s: %v", step, e)
		}
		if m["step"] != step {
			d.t.Fatalf("browser driver reported %v, want step %s", m, step)
		}
		d.t.Logf("browser: %s %v", step, m)
		return m
	case <-time.After(150 * time.Second):
		d.t.Fatalf("no report of step %s from the browser driver within 150 s", step)
	}
	return nil
}

// proceed lets the driver go on to its next step.
func (d *driver) proceed() {
	d.t.Helper()
	if _, err := io.WriteString(d.stdin, "ok\n"); err != nil {
		d.t.Fatalf("tell the browser driver to go on: %v", err)
	}
}

// credStatus is the part of a credential-update status the test checks.
type credStatus struct {
	Password     bool              `json:"password"`
	TOTP         []json.RawMessage `json:"totp"`
	Passkeys     []json.RawMessage `json:"passkeys"`
	SecurityKeys []json.RawMessage `json:"security_keys"`
	Mechanisms   []string          `json:"mechanisms"`
}

// credentialsOf reads alice's committed credentials through the API: an
// admin issues a fresh reset token, an anonymous client opens an update
// session with it, reads its status and cancels it (nothing is consumed).
func credentialsOf(t *testing.T, c *Cluster, admin *apiclient.Client, nd *Node, name string) credStatus {
	t.Helper()
	ctx := context.Background()
	var tok struct {
		Token string `json:"token"`
	}
	if _, err := admin.Do(ctx, http.MethodPost, "/v1/person/"+name+"/credential/reset_token", map[string]int{"ttl": 600}, &tok); err != nil {
		t.Fatalf("reset token for %s: %v", name, err)
	}
	anon := c.Client(nd, "")
	var open struct {
		ID     string     `json:"id"`
		Status credStatus `json:"status"`
	}
	if _, err := anon.Do(ctx, http.MethodPost, "/v1/credential/update/reset", map[string]string{"token": tok.Token}, &open); err != nil {
		t.Fatalf("open a credential update of %s with a reset token: %v", name, err)
	}
	if _, err := anon.Do(ctx, http.MethodDelete, "/v1/credential/update/"+open.ID, nil, nil); err != nil {
		t.Fatalf("cancel the credential update: %v", err)
	}
	return open.Status
}

// sessionOf waits until the admin sees session id of account recorded
// (records land asynchronously after the login) and returns it.
func sessionOf(t *testing.T, admin *apiclient.Client, account, id string) apiclient.Session {
	t.Helper()
	var found apiclient.Session
	Eventually(t, 10*time.Second, "session "+id+" of "+account+" recorded", func() bool {
		ss, err := admin.Sessions(context.Background(), account)
		if err != nil {
			t.Logf("list sessions: %v", err)
			return false
		}
		for _, s := range ss {
			if s.ID == id {
				found = s
				return true
			}
		}
		return false
	})
	return found
}

// sessionGone waits until the session is no longer listed (revoked).
func sessionGone(t *testing.T, admin *apiclient.Client, account, id string) {
	t.Helper()
	Eventually(t, 5*time.Second, "session "+id+" revoked", func() bool {
		ss, err := admin.Sessions(context.Background(), account)
		if err != nil {
			return false
		}
		for _, s := range ss {
			if s.ID == id {
				return false
			}
		}
		return true
	})
}

// The web pages in a real browser: Debian's Chromium with virtual WebAuthn
// authenticators walks through a reset link (token in the fragment;
// password, TOTP app, passkey), logs in with the passkey by name (through a
// ?next= that must not leave the origin) and without a name, revokes the
// first session from the list (the focus lands on the status message),
// reauthenticates to enrol a
// security key, and logs in with password + security key. After every
// step the API, asked on other nodes than the browser's, agrees.
func TestBrowserPasskeysAndSecurityKeys(t *testing.T) {
	start := time.Now()
	node, driverDir := browserPrereqs(t)
	c := NewCluster(t, 3)
	var origins []string
	for _, nd := range c.Nodes {
		origins = append(origins, strconv.Quote(nd.URL()))
	}
	c.ConfigExtra = fmt.Sprintf("[webauthn]\nrp_id = \"localhost\"\norigins = [%s]\n", strings.Join(origins, ", "))
	c.StartAll()
	c.WaitHealthy()
	browserNode, checkNode := c.Nodes[0], c.Nodes[1]
	admin, _ := c.Admin(checkNode, "idm_admin")
	ctx := context.Background()
	if _, err := admin.CreatePerson(ctx, "alice", "Alice", nil); err != nil {
		t.Fatalf("create alice: %v", err)
	}
	var tok struct {
		Token, URL string
	}
	if _, err := admin.Do(ctx, http.MethodPost, "/v1/person/alice/credential/reset_token", map[string]int{"ttl": 3600}, &tok); err != nil {
		t.Fatalf("reset token for alice: %v", err)
	}
	// The token rides in the fragment, which browsers never send to a server.
	u, err := url.Parse(tok.URL)
	if err != nil || u.Path != "/ui/reset" || u.RawQuery != "" || u.Fragment != "token="+tok.Token {
		t.Fatalf("reset URL %q: want /ui/reset#token=<token>, nothing in the query (%v)", tok.URL, err)
	}
	t.Logf("cluster ready after %s", time.Since(start).Round(time.Millisecond))

	artifacts := t.TempDir()
	d := startDriver(t, node, driverDir, map[string]any{
		"base": browserNode.URL(), "token": tok.Token, "resetPath": u.EscapedPath() + "#" + u.EscapedFragment(), "name": "alice", "password": browserPassword,
		"chromium": chromiumPath, "timeoutMs": 240000, "stepTimeoutMs": 45000, "artifacts": artifacts,
	})

	// 1. Reset page: password and passkey committed; the token is spent.
	m := d.expect("reset-committed")
	if fb, _ := m["weakFeedback"].(string); fb == "" {
		t.Errorf("no feedback shown for a weak password")
	}
	st := credentialsOf(t, c, admin, checkNode, "alice")
	if !st.Password || len(st.TOTP) != 1 || len(st.Passkeys) != 1 || len(st.SecurityKeys) != 0 {
		t.Fatalf("after the reset page alice has %+v; want a password, one TOTP and one passkey", st)
	}
	if _, err := c.Client(checkNode, "").Do(ctx, http.MethodPost, "/v1/credential/update/reset", map[string]string{"token": tok.Token}, nil); err == nil {
		t.Errorf("the committed reset token opened a second update")
	}
	d.proceed()

	// 2. Passkey by name (through a ?next= that must not leave the origin);
	// the session is recorded.
	m = d.expect("passkey-login")
	sid, _ := m["session"].(string)
	if s := sessionOf(t, admin, "alice", sid); s.Mechanism != "passkey" {
		t.Errorf("passkey login recorded as %q", s.Mechanism)
	}
	d.proceed()

	// 3. Usernameless passkey, then the first session revoked from the list.
	m = d.expect("usernameless-login")
	sid2, _ := m["session"].(string)
	if sid2 == sid {
		t.Errorf("usernameless login reused session %s", sid)
	}
	if s := sessionOf(t, admin, "alice", sid2); s.Mechanism != "passkey" {
		t.Errorf("usernameless login recorded as %q", s.Mechanism)
	}
	d.proceed()
	m = d.expect("revoked")
	if m["session"] != sid || m["focus"] != "status" {
		t.Errorf("revocation from the list: %v; want session %s and the focus on the status message", m, sid)
	}
	sessionGone(t, admin, "alice", sid)
	d.proceed()

	// 4. Reauth and a security key.
	m = d.expect("securitykey-committed")
	if n, _ := m["usbCredentials"].(float64); n != 1 {
		t.Errorf("the virtual security key holds %v credentials, want 1", m["usbCredentials"])
	}
	if n, _ := m["reauths"].(float64); n < 1 {
		t.Errorf("the update page opened without a reauthentication (a fresh login is read-only)")
	}
	st = credentialsOf(t, c, admin, checkNode, "alice")
	if !st.Password || len(st.TOTP) != 1 || len(st.Passkeys) != 1 || len(st.SecurityKeys) != 1 {
		t.Fatalf("after enrolling a security key alice has %+v; want a password, one TOTP, one passkey, one security key", st)
	}
	d.proceed()
	d.expect("logout-2")
	sessionGone(t, admin, "alice", sid2)
	d.proceed()

	// 5. Password + security key.
	m = d.expect("passwordsecuritykey-login")
	sid3, _ := m["session"].(string)
	if s := sessionOf(t, admin, "alice", sid3); s.Mechanism != "passwordsecuritykey" {
		t.Errorf("password + security key login recorded as %q", s.Mechanism)
	}
	d.proceed()
	select {
	case m, ok := <-d.lines:
		if !ok || m["done"] != true {
			t.Fatalf("browser driver did not finish cleanly: %v", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("browser driver did not finish within 30 s of its last step")
	}
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}
