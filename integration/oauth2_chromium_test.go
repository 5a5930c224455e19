package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumOAuth2 runs one authorization in Debian's Chromium (driver
// integration/browser/oauth2.mjs): the RP's authorization URL through
// HAProxy, the real login page (alice types her name and password), the
// real consent page (approved), and the redirect to the client's callback,
// a real HTTPS server of the test. The Go RP then exchanges the code.
func chromiumOAuth2(t *testing.T, f *oauth2Fixture) {
	node, driverDir := browserPrereqs(t)
	var got = make(chan string, 4)
	rp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			got <- r.URL.String()
		}
		io.WriteString(w, "<!doctype html><title>RP</title><p>signed in</p>")
	}))
	defer rp.Close()
	name := "rp-chromium"
	cl := oauth2Client{ID: name, Redirect: rp.URL + "/callback"}
	f.cli.ok("", "oauth2", "create", name, "Chromium test client", rp.URL)
	f.cli.ok("", "oauth2", "add-redirect-url", name, cl.Redirect)
	f.cli.ok("", append([]string{"oauth2", "update-scope-map", name, oauth2UsersGroup}, oauth2Scopes...)...)
	cl.Secret = lastSecret(f.cli.ok("", "oauth2", "show-basic-secret", name))
	f.waitAllApplied()
	relying := f.newRP(cl, f.hapHTTP(), "ES256")
	req := relying.authURL(true)

	artifacts := t.TempDir()
	raw, _ := json.Marshal(map[string]any{"authURL": req.URL, "redirect": cl.Redirect, "name": f.alice.Name, "password": f.alice.Password,
		"chromium": chromiumPath, "timeoutMs": 90000, "stepTimeoutMs": 30000, "artifacts": artifacts})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "oauth2.mjs")
	cmd.Dir = driverDir
	// No Kerberos ticket: the 401 Negotiate challenge must fall back to the
	// login page in its body.
	cmd.Env = append(os.Environ(), "GATEHOUSE_OAUTH2_CONFIG="+string(raw), "KRB5CCNAME=FILE:"+filepath.Join(artifacts, "no-ccache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	logPath := filepath.Join(artifacts, "driver.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the OAuth2 browser driver: %v", err)
	}
	var res map[string]any
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			res = map[string]any{"error": "driver printed non-JSON: " + sc.Text()}
		}
	}
	werr := cmd.Wait()
	logf.Close()
	if res == nil || res["error"] != nil || werr != nil {
		b, _ := os.ReadFile(logPath)
		lines := strings.Split(string(b), "\n")
		t.Fatalf("Chromium OAuth2 flow failed: %v (%v)\n--- driver log:\n%s", res, werr, strings.Join(lines[max(0, len(lines)-60):], "\n"))
	}
	t.Logf("Chromium: login page answered %v, consent page: %.200q", res["loginStatus"], res["consent"])
	var callback string
	select {
	case callback = <-got:
	case <-time.After(5 * time.Second):
		t.Fatalf("the callback server saw no request; the browser ended at %v", res["url"])
	}
	q := queryOf(t, callback)
	if q.Get("state") != req.State || q.Get("code") == "" {
		t.Fatalf("callback %s: want the code and state %s", callback, req.State)
	}
	if c, _ := res["consent"].(string); !strings.Contains(c, "openid") && !strings.Contains(strings.ToLower(c), "profile") {
		t.Errorf("the consent page does not list the scopes: %q", c)
	}
	_, idt, err := relying.exchange(req, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	idt.Claims(&claims)
	if claims["preferred_username"] != "alice@example.com" {
		t.Errorf("ID token after the Chromium flow: %v", claims)
	}
}
