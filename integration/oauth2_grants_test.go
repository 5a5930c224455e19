package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	gspnego "github.com/jcmturner/gokrb5/v8/spnego"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Raw protocol calls of the OAuth2 tests: introspection, revocation,
// userinfo status, client credentials, device approval, and the Kerberos
// client of the SPNEGO flow.

// postClientForm posts form to endpoint with the client's Basic
// credentials (RFC 6749 2.3.1: each form-encoded).
func postClientForm(t testing.TB, hc *http.Client, endpoint string, cl oauth2Client, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(cl.Secret))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		m["raw"] = string(b)
	}
	return resp.StatusCode, m
}

// introspect asks nd's introspection endpoint (RFC 7662) about token.
func introspect(t testing.TB, f *oauth2Fixture, nd *Node, cl oauth2Client, token string) map[string]any {
	t.Helper()
	st, m := introspectStatus(t, f, nd, cl, token)
	if st != http.StatusOK {
		t.Fatalf("introspect at %s: %d %v", nd.ID, st, m)
	}
	return m
}

func introspectStatus(t testing.TB, f *oauth2Fixture, nd *Node, cl oauth2Client, token string) (int, map[string]any) {
	t.Helper()
	return postClientForm(t, f.c.HTTP(), nd.URL()+"/oauth2/introspect", cl, url.Values{"token": {token}})
}

// revoke revokes a token (RFC 7009) through the balancer.
func revoke(t testing.TB, f *oauth2Fixture, cl oauth2Client, token, hint string) (int, map[string]any) {
	t.Helper()
	return postClientForm(t, f.hapHTTP(), f.lb+"/oauth2/revoke", cl, url.Values{"token": {token}, "token_type_hint": {hint}})
}

// userinfoStatus is the status of GET userinfo with a bearer token.
func userinfoStatus(t testing.TB, hc *http.Client, endpoint, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, endpoint, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", endpoint, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// clientcredentials is x/oauth2's client-credentials client for issuer.
func ccConfig(issuer, id, secret string, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: issuer + "/oauth2/token",
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
}

// approveDevice is the user's side of the device grant: the browser opens
// the verification URI with the code, signs in if asked, and approves.
func approveDevice(t *testing.T, b *oauth2Browser, da *oauth2.DeviceAuthResponse) {
	t.Helper()
	u := da.VerificationURIComplete
	if u == "" {
		u = da.VerificationURI + "?user_code=" + url.QueryEscape(da.UserCode)
	}
	nb := *b
	nb.noConsent = true
	o := nb.authorize(u, "https://device.invalid/") // no client redirect: it ends on the device page
	if o.Status != http.StatusOK {
		t.Fatalf("device page %s: %d\n%.400s", o.URL, o.Status, o.Body)
	}
	if !strings.Contains(o.Body, da.UserCode) && !strings.Contains(strings.ToLower(o.Body), "code") {
		t.Errorf("the device page does not show or ask for the code:\n%.400s", o.Body)
	}
	cur, _ := url.Parse(o.URL)
	st, body, _ := nb.submitAllow(cur, o.Body)
	if st != http.StatusOK || !strings.Contains(body, "signed in") {
		t.Fatalf("device approval: %d\n%.400s", st, body)
	}
}

// goKrbClient is gokrb5's client for alice@EXAMPLE.COM with a TGT.
func (f *oauth2Fixture) goKrbClient(t *testing.T) *client.Client {
	t.Helper()
	cfg, err := config.Load(f.kdc.Krb5Conf())
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewWithPassword("alice", krbRealm, f.krbPassword, cfg, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatalf("gokrb5 login alice@%s: %v", krbRealm, err)
	}
	t.Cleanup(cl.Destroy)
	return cl
}

// spnegoHeader is a fresh "Negotiate <token>" for HTTP/localhost.
func spnegoHeader(t *testing.T, cl *client.Client) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://localhost/", nil)
	if err := gspnego.SetSPNEGOHeader(cl, req, krbService); err != nil {
		t.Fatalf("SPNEGO token: %v", err)
	}
	return req.Header.Get("Authorization")
}
