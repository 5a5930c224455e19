package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newHandler() http.Handler {
	return New(Config{Domain: func() string { return "example.com" }, Origin: "https://localhost:8443"})
}

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func checkSecurityHeaders(t *testing.T, path string, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("%s: CSP %q", path, csp)
	}
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options %q", path, got)
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("%s: Referrer-Policy %q", path, got)
	}
}

// Each page renders with its labels, its script, no inline script, and
// every labelled control exists with the id its label points at.
func TestPagesRender(t *testing.T) {
	h := newHandler()
	cases := map[string][]string{
		"/ui/login":              {`<label for="name">Account name</label>`, "Sign in with a passkey", "Sign in with Kerberos", `<label for="password">Password</label>`, `<label for="totp">Authenticator code</label>`, "/ui/static/login.js"},
		"/ui/update":             {`data-mode="update"`, `<label for="new-password">New password</label>`, "Enrol a passkey", "Enrol a security key", "Save changes", "/ui/static/update.js"},
		"/ui/reset":              {`data-mode="reset"`, `<label for="new-password">New password</label>`, "/ui/static/update.js"},
		"/ui/sessions":           {"Log out", "<caption>", "/ui/static/sessions.js"},
		"/ui/login?next=%2Fx%22": {"Account name"},
	}
	labelFor := regexp.MustCompile(`<label for="([^"]+)"`)
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>|\son[a-z]+=`)
	for path, wants := range cases {
		resp, body := get(t, h, "GET", path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: content type %q", path, ct)
		}
		checkSecurityHeaders(t, path, resp)
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s: missing %q", path, w)
			}
		}
		if !strings.Contains(body, "example.com") || !strings.Contains(body, "https://localhost:8443") {
			t.Errorf("%s: domain or origin not shown", path)
		}
		if inline.MatchString(body) {
			t.Errorf("%s: inline script or event handler: %q", path, inline.FindString(body))
		}
		for _, m := range labelFor.FindAllStringSubmatch(body, -1) {
			if !strings.Contains(body, `id="`+m[1]+`"`) {
				t.Errorf("%s: label for %q has no control", path, m[1])
			}
		}
		if !strings.Contains(body, `role="alert"`) || !strings.Contains(body, `aria-live="polite"`) {
			t.Errorf("%s: no live regions for messages", path)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	h := newHandler()
	for path, ct := range map[string]string{
		"/ui/static/app.js":      "text/javascript; charset=utf-8",
		"/ui/static/login.js":    "text/javascript; charset=utf-8",
		"/ui/static/update.js":   "text/javascript; charset=utf-8",
		"/ui/static/sessions.js": "text/javascript; charset=utf-8",
		"/ui/static/style.css":   "text/css; charset=utf-8",
	} {
		resp, body := get(t, h, "GET", path)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("%s: status %d, %d bytes", path, resp.StatusCode, len(body))
		}
		if got := resp.Header.Get("Content-Type"); got != ct {
			t.Errorf("%s: content type %q, want %q", path, got, ct)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		checkSecurityHeaders(t, path, resp)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := newHandler()
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/ui/nope", http.StatusNotFound},
		{"GET", "/ui/static/nope.js", http.StatusNotFound},
		{"POST", "/ui/login", http.StatusMethodNotAllowed},
		{"POST", "/ui/static/app.js", http.StatusMethodNotAllowed},
		{"GET", "/ui/", http.StatusFound},
		{"HEAD", "/ui/login", http.StatusOK},
	} {
		resp, _ := get(t, h, c.method, c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		checkSecurityHeaders(t, c.path, resp)
	}
}

// Screen readers may not announce a live region that is not rendered when
// its message arrives: no rule may hide the message regions, empty or not.
// The status message takes the focus after a revocation, so it must be
// focusable.
func TestLiveRegionsStayRendered(t *testing.T) {
	h := newHandler()
	_, css := get(t, h, "GET", "/ui/static/style.css")
	comments := regexp.MustCompile(`(?s)/\*.*?\*/`)
	rules := regexp.MustCompile(`([^{}]+)\{([^}]*)\}`)
	hides := regexp.MustCompile(`display\s*:\s*none|visibility\s*:\s*hidden|(?:^|[;\s])height\s*:\s*0`)
	live := regexp.MustCompile(`\.error|\.status|#error|#status|\[role|\[aria-live`)
	for _, m := range rules.FindAllStringSubmatch(comments.ReplaceAllString(css, ""), -1) {
		if live.MatchString(m[1]) && hides.MatchString(m[2]) {
			t.Errorf("style.css hides a live region: %s{%s}", strings.TrimSpace(m[1]), m[2])
		}
	}
	_, page := get(t, h, "GET", "/ui/sessions")
	if !regexp.MustCompile(`<p id="status"[^>]*tabindex="-1"`).MatchString(page) {
		t.Error("the status message cannot take the focus (tabindex=-1)")
	}
}
