package oauth2

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Without an id_token_hint, end session asks the signed-in user first; a
// forged confirmation (no form token, or another session's) logs nobody
// out; the confirmation logs out and redirects to the registered URI.
func TestEndSessionWithoutHintAsksFirst(t *testing.T) {
	n := newTestNode(t)
	sess := n.session(t, "n1.lo")
	b := n.browserWith(sess)
	q := url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {redirect}, "state": {"s1"}}
	resp, err := b.Get(n.srv.URL + PathEndSession + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Sign out of Gatehouse") {
		t.Fatalf("confirmation page: %d %s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Fatalf("the page's CSP does not let the form reach the app: %s", csp)
	}
	if n.w.FSM.IsRevoked("n1.lo") {
		t.Fatal("showing the page logged out")
	}
	form := regexp.MustCompile(`name="form" value="([^"]+)"`).FindStringSubmatch(string(body))
	if form == nil {
		t.Fatalf("no form token in %s", body)
	}
	post := func(c *http.Client, v url.Values) *http.Response {
		resp, err := c.PostForm(n.srv.URL+PathEndSession, v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// No token, or the token shown to another session: the page again.
	if r := post(b, q); r.StatusCode != http.StatusOK || n.w.FSM.IsRevoked("n1.lo") {
		t.Fatalf("a POST without the form token: %d", r.StatusCode)
	}
	other := n.browserWith(n.session(t, "n1.other"))
	stolen := url.Values{"form": {form[1]}}
	for k, v := range q {
		stolen[k] = v
	}
	if r := post(other, stolen); r.StatusCode != http.StatusOK || n.w.FSM.IsRevoked("n1.other") {
		t.Fatalf("another session's form token: %d", r.StatusCode)
	}
	// The confirmation: logged out, sent back to the app with its state.
	r := post(b, stolen)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != redirect+"?state=s1" {
		t.Fatalf("confirmed sign-out: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if !n.w.FSM.IsRevoked("n1.lo") {
		t.Fatal("the confirmed sign-out did not revoke the session")
	}
}
