package oauth2

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/ops/logging"
	"github.com/gatehouse-idm/gatehouse/ops/metrics"
	"github.com/gatehouse-idm/gatehouse/protocols/api"
	"github.com/gatehouse-idm/gatehouse/protocols/spnego"
	"github.com/gatehouse-idm/gatehouse/protocols/spnego/spnegotest"
	"github.com/prometheus/client_golang/prometheus"
)

// clock lets a test move the provider's time (device polling intervals).
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

var (
	userCodeRe = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)
	formToken  = regexp.MustCompile(`name="form" value="([^"]+)"`)
)

func (n *testNode) deviceStart(t *testing.T) (deviceCode, userCode string) {
	t.Helper()
	st, out := n.post(t, PathDevice, "cli", "", url.Values{"scope": {"openid offline_access"}})
	if st != http.StatusOK {
		t.Fatalf("device authorization: %d %v", st, out)
	}
	deviceCode, _ = out["device_code"].(string)
	userCode, _ = out["user_code"].(string)
	if !userCodeRe.MatchString(userCode) || deviceCode == "" || out["interval"] != float64(DeviceInterval) ||
		out["verification_uri_complete"] != n.srv.URL+PathUIDevice+"?user_code="+userCode {
		t.Fatalf("device answer: %v", out)
	}
	return deviceCode, userCode
}

func (n *testNode) devicePoll(t *testing.T, deviceCode string) (int, map[string]any) {
	t.Helper()
	return n.post(t, PathToken, "cli", "", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}})
}

func (n *testNode) get(t *testing.T, b *http.Client, path string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(n.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestDeviceGrantEndToEnd(t *testing.T) {
	n := newTestNode(t)
	clk := &clock{}
	n.p.Now = clk.now
	dc, uc := n.deviceStart(t)

	// Polling: pending, then slow_down when faster than the interval.
	if _, out := n.devicePoll(t, dc); out["error"] != "authorization_pending" {
		t.Fatalf("first poll: %v", out)
	}
	if _, out := n.devicePoll(t, dc); out["error"] != "slow_down" {
		t.Fatalf("an immediate second poll: %v", out)
	}
	// The page needs a login: to the login page without one.
	resp, _ := n.get(t, n.browser(false), PathUIDevice+"?user_code="+uc)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login?next="+url.QueryEscape(PathUIDevice+"?user_code="+uc)) {
		t.Fatalf("device page without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Logged in: the code typed in lower case without the dash finds the
	// request and shows the confirmation (nothing decided by a GET).
	typed := strings.ToLower(strings.ReplaceAll(uc, "-", ""))
	resp, body := n.get(t, n.browser(true), PathUIDevice+"?user_code="+typed+"&decision=approve")
	m := formToken.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(body, uc) || !strings.Contains(body, "offline_access") {
		t.Fatalf("confirmation page: %d %s", resp.StatusCode, body)
	}
	clk.add(6 * time.Second)
	if _, out := n.devicePoll(t, dc); out["error"] != "authorization_pending" {
		t.Fatalf("a GET approved the device: %v", out)
	}
	// A POST without the page's form token (a forged form) decides nothing.
	post := func(b *http.Client, v url.Values) (int, string) {
		resp, err := b.PostForm(n.srv.URL+PathUIDevice, v)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b2)
	}
	if st, _ := post(n.browser(true), url.Values{"user_code": {uc}, "decision": {"approve"}}); st != http.StatusForbidden {
		t.Fatalf("unbound approval: %d", st)
	}
	if st, _ := post(n.browserWith(n.session(t, "n1.other")), url.Values{"user_code": {uc}, "form": {m[1]}, "decision": {"approve"}}); st != http.StatusForbidden {
		t.Fatalf("approval with another session's form: %d", st)
	}
	clk.add(6 * time.Second)
	if _, out := n.devicePoll(t, dc); out["error"] != "authorization_pending" {
		t.Fatalf("a forged form approved the device: %v", out)
	}
	if st, body := post(n.browser(true), url.Values{"user_code": {uc}, "form": {m[1]}, "decision": {"approve"}}); st != http.StatusOK || !strings.Contains(body, "signed in") {
		t.Fatalf("approval: %d %s", st, body)
	}
	clk.add(6 * time.Second)
	st, out := n.devicePoll(t, dc)
	if st != http.StatusOK || out["access_token"] == nil || out["id_token"] == nil || out["refresh_token"] == nil {
		t.Fatalf("tokens: %d %v", st, out)
	}
	if n.userinfo(t, out["access_token"].(string)) != http.StatusOK {
		t.Fatal("the device's access token is refused at userinfo")
	}
	// Consumed once.
	clk.add(6 * time.Second)
	if _, out := n.devicePoll(t, dc); out["error"] != "expired_token" {
		t.Fatalf("second consumption: %v", out)
	}
	// A decided code is no longer offered on the page.
	if resp, _ := n.get(t, n.browser(true), PathUIDevice+"?user_code="+uc); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a used user code: %d", resp.StatusCode)
	}

	// Deny.
	dc2, uc2 := n.deviceStart(t)
	_, body = n.get(t, n.browser(true), PathUIDevice+"?user_code="+uc2)
	m = formToken.FindStringSubmatch(body)
	if st, body := post(n.browser(true), url.Values{"user_code": {uc2}, "form": {m[1]}, "decision": {"deny"}}); st != http.StatusOK || !strings.Contains(body, "denied") {
		t.Fatalf("deny: %d %s", st, body)
	}
	clk.add(6 * time.Second)
	if st, out := n.devicePoll(t, dc2); st != http.StatusBadRequest || out["error"] != "access_denied" {
		t.Fatalf("poll after deny: %d %v", st, out)
	}
}

func TestDeviceUserCodeGuessesAreBounded(t *testing.T) {
	n := newTestNode(t)
	_, uc := n.deviceStart(t)
	b := n.browserWith(n.session(t, "n1.guesser"))
	for i := range MaxUserCodeMisses {
		if resp, _ := n.get(t, b, PathUIDevice+"?user_code=BBBB-BBB"+string(userCodeChars[i])); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	// Out of guesses: even the right code is not looked up any more.
	if resp, _ := n.get(t, b, PathUIDevice+"?user_code="+uc); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong codes: %d", MaxUserCodeMisses, resp.StatusCode)
	}
	// The codes are uniform over the alphabet (no modulo bias): every
	// letter shows up in a few thousand draws at a similar rate.
	counts := map[rune]int{}
	for range 2000 {
		for _, r := range strings.ReplaceAll(newUserCode(), "-", "") {
			counts[r]++
		}
	}
	for _, r := range userCodeChars {
		if c := counts[r]; c < 16000/20*7/10 || c > 16000/20*13/10 {
			t.Errorf("letter %c drawn %d times of 16000", r, c)
		}
	}
}

func TestEndSession(t *testing.T) {
	n := newTestNode(t)
	sess := n.session(t, "n1.es")
	code := n.codeFor(t, sess, authQuery("app", redirect, "openid", s256v(verifier)))
	_, out := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier))
	at, idt := out["access_token"].(string), out["id_token"].(string)
	b := n.browserWith(sess)
	end := func(b *http.Client, q url.Values) *http.Response {
		resp, err := b.Get(n.srv.URL + PathEndSession + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// A hint that is not an ID token of ours, or names another client: refused.
	if r := end(b, url.Values{"id_token_hint": {at}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("an access token as id_token_hint: %d", r.StatusCode)
	}
	if r := end(b, url.Values{"id_token_hint": {idt}, "client_id": {"legacy"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("client_id other than the hint's: %d", r.StatusCode)
	}
	if n.w.FSM.IsRevoked("n1.es") {
		t.Fatal("a refused end session logged out")
	}
	// Registered post-logout URI: redirected there with state; the login
	// session and the OAuth2 session are revoked, the cookie cleared.
	r := end(b, url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {redirect}, "state": {"bye"}})
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != redirect+"?state=bye" {
		t.Fatalf("end session: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	cleared := false
	for _, c := range r.Cookies() {
		if c.Name == api.CookieSession && c.Value == "" && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("session cookie not cleared: %v", r.Header.Values("Set-Cookie"))
	}
	if !n.w.FSM.IsRevoked("n1.es") {
		t.Error("the login session survived end session")
	}
	if in := n.introspectAs(t, "app", secret, at); in["active"] != false {
		t.Errorf("the OAuth2 session survived end session: %v", in)
	}
	// Unregistered post-logout URI: not followed.
	sess2 := n.session(t, "n1.es2")
	r = end(n.browserWith(sess2), url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example.com/"}})
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/ui/login" {
		t.Errorf("unregistered post-logout URI: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if !n.w.FSM.IsRevoked("n1.es2") {
		t.Error("the second login session survived end session")
	}
}

func TestAuthorizeWithKerberos(t *testing.T) {
	n := newTestNode(t)
	kt, err := spnegotest.Keytab(1)
	if err != nil {
		t.Fatal(err)
	}
	n.api.SPNEGODeps = api.SPNEGODeps{SPNEGO: &spnego.Acceptor{Keytab: spnego.StaticKeytab(kt), Realms: []string{spnegotest.Realm},
		ServicePrincipals: []string{spnegotest.Service}}, MapNameRealms: []string{spnegotest.Realm}}
	n.p.Negotiate = n.api.NegotiateSession
	n.p.LoginPage = func(w http.ResponseWriter, status int, next string) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		io.WriteString(w, `<form id="name-form">login page, then `+next+`</form>`)
	}
	cont := n.startAuth(t, authQuery("app", redirect, "openid", s256v(verifier)))
	do := func(neg string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, cont, nil)
		if neg != "" {
			req.Header.Set("Authorization", neg)
		}
		resp, err := n.browser(false).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	// No token: 401 Negotiate whose body is the login page.
	resp, body := do("")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Negotiate" || !strings.Contains(body, `id="name-form"`) {
		t.Fatalf("without a ticket: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// A tampered token: the same.
	tok, _, err := spnegotest.Mint(spnegotest.Options{TamperAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := do(spnegotest.Header(tok)); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `id="name-form"`) {
		t.Fatalf("a tampered ticket: %d %s", resp.StatusCode, body)
	}
	// A valid token for alice: logged in (cookie set, mutual token
	// answered), on to the consent page for her.
	tok, _, err = spnegotest.Mint(spnegotest.Options{Mutual: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = do(spnegotest.Header(tok))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "alice") || !hiddenForm.MatchString(body) {
		t.Fatalf("with a ticket: %d %s", resp.StatusCode, body)
	}
	if wa := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Negotiate ") || len(wa) < 20 {
		t.Errorf("no mutual-authentication token: %q", wa)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == api.CookieSession && c.Value != "" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie after the Kerberos login")
	}
	// The consent form is bound to that new session: approving with it
	// issues a code whose tokens say Kerberos.
	id, form := hiddenID.FindStringSubmatch(body), hiddenForm.FindStringSubmatch(body)
	r2, err := n.browserWith(cookie.Value).PostForm(n.srv.URL+PathUIConsent, url.Values{"id": {id[1]}, "form": {form[1]}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	u, _ := url.Parse(r2.Header.Get("Location"))
	st, out := n.tokenReq(t, "app", secret, exchangeForm(u.Query().Get("code"), redirect, verifier))
	if st != http.StatusOK || !strings.Contains(jwtPayload(t, out["id_token"].(string)), `"amr":["wia"]`) {
		t.Fatalf("tokens of the Kerberos login: %d %v", st, out)
	}
}

func jwtPayload(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	b, _ := base64URL(parts[1])
	return string(b)
}

func TestGrantsAreAuditedAndCounted(t *testing.T) {
	n := newTestNode(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	n.p.Audit = logging.NewAudit(lockedWriter{&mu, &buf})
	reg := prometheus.NewRegistry()
	n.p.Metrics = metrics.NewOAuth2(reg)
	code := n.codeFor(t, n.alice, authQuery("app", redirect, "openid offline_access", s256v(verifier)))
	_, out := n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier))
	rt := out["refresh_token"].(string)
	n.tokenReq(t, "app", secret, exchangeForm(code, redirect, verifier)) // replay
	n.tokenReq(t, "app", secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}})
	n.tokenReq(t, "app", "wrong-secret-value", url.Values{"grant_type": {"client_credentials"}})
	counts := map[string]float64{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			k := ""
			for _, l := range m.GetLabel() {
				k += l.GetValue() + "/"
			}
			counts[k] = m.GetCounter().GetValue()
		}
	}
	for k, want := range map[string]float64{"authorize/success/": 1, "authorization_code/success/": 1, "authorization_code/replayed/": 1, "client_credentials/success/": 1} {
		if counts[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, counts[k], want, counts)
		}
	}
	mu.Lock()
	log := buf.String()
	mu.Unlock()
	for _, want := range []string{`"event":"oauth2_grant"`, `"grant":"authorization_code"`, `"result":"replayed"`, `"account":"alice"`, `"client":"app"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	for _, secretValue := range []string{code, rt, secret, verifier, "wrong-secret-value", out["access_token"].(string)} {
		if strings.Contains(log, secretValue) {
			t.Errorf("the audit log holds a secret %q", secretValue[:8])
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func base64URL(s string) ([]byte, error) { return base64RawURL.DecodeString(s) }

var base64RawURL = base64.RawURLEncoding
