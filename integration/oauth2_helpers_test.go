package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-idm/gatehouse/ops/mitkdc"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// Helpers of the OAuth2/OIDC provider tests (issue 4, and issue 5's
// SPNEGO login for an OAuth2 flow): one three-node cluster behind HAProxy
// whose issuer is the balancer's URL, a real MIT KDC, clients made with
// the CLI, a Go user agent that does what the login page's script does,
// and a real relying party (go-oidc + x/oauth2).

// oauth2UsersGroup is the group the scope maps name.
const oauth2UsersGroup = "oauth2-users"

// oauth2Scopes are what the scope map of every test client grants.
var oauth2Scopes = []string{"openid", "profile", "email", "groups", "offline_access"}

// oauth2Fixture is the shared cluster of the OAuth2 tests.
type oauth2Fixture struct {
	t     *testing.T
	c     *Cluster
	hap   *HAProxy
	lb    string // the balancer's URL = the issuer
	admin *apiclient.Client
	cli   *cliUser
	kdc   *mitkdc.KDC
	// krbPassword is alice@EXAMPLE.COM's Kerberos password.
	krbPassword string
	alice       secret // person alice, password login, in oauth2UsersGroup
}

// startWithOrigin writes every node's config with origin (the issuer)
// instead of the harness's https://localhost, and starts them.
func startWithOrigin(t *testing.T, c *Cluster, origin string) {
	t.Helper()
	for _, nd := range c.Nodes {
		nd.WriteConfig(len(c.Nodes), c.peersOf(nd))
		b, err := os.ReadFile(nd.Config)
		if err != nil {
			t.Fatal(err)
		}
		cfg := strings.Replace(string(b), `origin = "https://localhost"`, "origin = "+strconv.Quote(origin), 1)
		if cfg == string(b) {
			t.Fatalf("the harness's config has no origin line to replace:\n%s", b)
		}
		if err := os.WriteFile(nd.Config, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		nd.Start()
	}
}

// newOAuth2Fixture starts the KDC (realm EXAMPLE.COM, alice and
// HTTP/localhost), three nodes with a [kerberos] table and the balancer's
// URL as their origin, HAProxy, and creates person alice (password and
// principal by the realm's name rule) in oauth2UsersGroup.
func newOAuth2Fixture(t *testing.T) *oauth2Fixture {
	t.Helper()
	start := time.Now()
	f := &oauth2Fixture{t: t, krbPassword: "alice-" + strongPassword()}
	kdcDir := filepath.Join(t.TempDir(), "kdc")
	if err := os.Mkdir(kdcDir, 0o700); err != nil {
		t.Fatal(err)
	}
	kdc, err := mitkdc.Start(kdcDir, krbRealm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kdc.Stop)
	f.kdc = kdc
	if err := kdc.AddRandKey(krbService); err != nil {
		t.Fatal(err)
	}
	if err := kdc.AddPrincipal("alice", f.krbPassword); err != nil {
		t.Fatal(err)
	}
	keytab := filepath.Join(kdcDir, "http.keytab")
	if err := kdc.Keytab(keytab, krbService); err != nil {
		t.Fatal(err)
	}

	c := NewCluster(t, 3)
	f.c = c
	lbPort := freePort(t)
	f.lb = fmt.Sprintf("https://localhost:%d", lbPort)
	c.ConfigExtra = fmt.Sprintf("[kerberos]\nkeytab = %s\nrealms = [%q]\nservice_principals = [%q]\nmap_name_realms = [%q]\n",
		strconv.Quote(keytab), krbRealm, krbService, krbRealm)
	startWithOrigin(t, c, f.lb)
	c.WaitHealthy()
	f.hap = StartHAProxy(t, lbPort, c.Nodes)

	ctx := context.Background()
	admin, _ := c.Admin(c.Nodes[0], "idm_admin")
	admin.SetReadYourWrites(true)
	f.admin = admin
	en := &enroller{t: t, c: c, nd: c.Nodes[0], admin: admin, origin: f.lb}
	f.alice = en.person(ctx, "alice", enrolOpts{Password: true})
	if _, err := admin.UpdatePerson(ctx, "alice", apiclient.EntryPatch{Mail: &[]string{"alice@example.com"}}); err != nil {
		t.Fatalf("mail of alice: %v", err)
	}
	if _, err := admin.CreateGroup(ctx, oauth2UsersGroup, "may use the test clients", []string{"alice"}); err != nil {
		t.Fatal(err)
	}
	f.cli = cliAs(t, c, c.Nodes[0], admin.Token())
	t.Logf("oauth2 fixture ready in %s (issuer %s)", time.Since(start).Round(time.Millisecond), f.lb)
	return f
}

// oauth2Client is one registered client.
type oauth2Client struct {
	ID, Secret, Redirect string
	Public               bool
}

// secretRe finds the secret in the CLI's output: the longest run of
// URL-safe characters of 20 or more.
var secretRe = regexp.MustCompile(`[A-Za-z0-9_\-.~+/=]{20,}`)

// createClient registers a client with the CLI: create (or create-public),
// one redirect URL, the scope map for oauth2UsersGroup; a basic client's
// secret is read with show-basic-secret.
func (f *oauth2Fixture) createClient(name string, public bool) oauth2Client {
	f.t.Helper()
	origin := "https://" + name + ".example.test"
	cl := oauth2Client{ID: name, Redirect: origin + "/callback", Public: public}
	verb := "create"
	if public {
		verb = "create-public"
	}
	out := f.cli.ok("", "oauth2", verb, name, "Client "+name, origin)
	f.cli.ok("", "oauth2", "add-redirect-url", name, cl.Redirect)
	f.cli.ok("", append([]string{"oauth2", "update-scope-map", name, oauth2UsersGroup}, oauth2Scopes...)...)
	if !public {
		shown := f.cli.ok("", "oauth2", "show-basic-secret", name)
		cl.Secret = lastSecret(shown)
		if cl.Secret == "" {
			f.t.Fatalf("no secret in the output of show-basic-secret %s: %q (create printed %q)", name, shown, out)
		}
		if !strings.Contains(out, cl.Secret) {
			f.t.Errorf("oauth2 create %s did not print the secret show-basic-secret shows: %q", name, out)
		}
	}
	return cl
}

func lastSecret(out string) string {
	var best string
	for _, m := range secretRe.FindAllString(out, -1) {
		if len(m) >= len(best) {
			best = m
		}
	}
	return best
}

// waitAllApplied waits until every running node applied the admin's writes.
func (f *oauth2Fixture) waitAllApplied() {
	f.t.Helper()
	idx := f.admin.LastIndex()
	for _, nd := range f.c.Nodes {
		if !nd.Running() {
			continue
		}
		Eventually(f.t, 10*time.Second, nd.ID+" applies the set-up", func() bool {
			st, ok := nd.Status()
			return ok && st.AppliedIndex >= idx
		})
	}
}

// hapHTTP is an HTTP client to the balancer (a new connection per request,
// so round robin spreads single requests over the nodes).
func (f *oauth2Fixture) hapHTTP() *http.Client { return f.hap.Client(f.t, f.c.CA) }

// --- the relying party -----------------------------------------------------

// oauth2RP is a real relying party: go-oidc's discovery and verifier,
// x/oauth2's code exchange and refresh.
type oauth2RP struct {
	t        *testing.T
	ctx      context.Context
	hc       *http.Client
	provider *oidc.Provider
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
	client   oauth2Client
}

// newRP discovers the issuer through hc and verifies ID tokens for the
// client signed with alg.
func (f *oauth2Fixture) newRP(cl oauth2Client, hc *http.Client, alg string, scopes ...string) *oauth2RP {
	f.t.Helper()
	ctx := oidc.ClientContext(context.Background(), hc)
	p, err := oidc.NewProvider(ctx, f.lb)
	if err != nil {
		f.t.Fatalf("go-oidc discovery of %s: %v", f.lb, err)
	}
	if len(scopes) == 0 {
		scopes = oauth2Scopes
	}
	return &oauth2RP{t: f.t, ctx: ctx, hc: hc, provider: p, client: cl,
		cfg:      oauth2.Config{ClientID: cl.ID, ClientSecret: cl.Secret, RedirectURL: cl.Redirect, Endpoint: p.Endpoint(), Scopes: scopes},
		verifier: p.VerifierContext(ctx, &oidc.Config{ClientID: cl.ID, SupportedSigningAlgs: []string{alg}})}
}

// authRequest is one authorization request of the RP.
type authRequest struct {
	URL, State, Nonce, Verifier string
}

// authURL makes an authorization request with S256 PKCE (pkce false: none).
func (rp *oauth2RP) authURL(pkce bool, extra ...oauth2.AuthCodeOption) authRequest {
	r := authRequest{State: randomToken(), Nonce: randomToken()}
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(r.Nonce)}, extra...)
	if pkce {
		r.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(r.Verifier))
	}
	r.URL = rp.cfg.AuthCodeURL(r.State, opts...)
	return r
}

// exchange swaps a code for tokens and verifies the ID token (nonce too).
func (rp *oauth2RP) exchange(r authRequest, code string) (*oauth2.Token, *oidc.IDToken, error) {
	var opts []oauth2.AuthCodeOption
	if r.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(r.Verifier))
	}
	tok, err := rp.cfg.Exchange(rp.ctx, code, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("code exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return tok, nil, fmt.Errorf("the token response has no id_token")
	}
	idt, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		return tok, nil, fmt.Errorf("ID token verification: %w", err)
	}
	if idt.Nonce != r.Nonce {
		return tok, idt, fmt.Errorf("ID token nonce %q, want %q", idt.Nonce, r.Nonce)
	}
	return tok, idt, nil
}

// tokenForm posts a form to the token endpoint (the raw protocol, for the
// refusals x/oauth2 cannot express) with the client's Basic credentials
// when it has a secret.
func (rp *oauth2RP) tokenForm(hc *http.Client, endpoint string, form url.Values) (int, map[string]any) {
	rp.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if rp.client.Secret != "" {
		req.SetBasicAuth(url.QueryEscape(rp.client.ID), url.QueryEscape(rp.client.Secret))
	} else {
		form.Set("client_id", rp.client.ID)
		req, _ = http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := hc.Do(req)
	if err != nil {
		rp.t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		m["raw"] = string(b)
	}
	return resp.StatusCode, m
}

// jwtHeader decodes a compact JWS's protected header.
func jwtHeader(t testing.TB, raw string) map[string]any {
	t.Helper()
	part, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatalf("JWT header of %.40q: %v", raw, err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("JWT header %s: %v", b, err)
	}
	return h
}

// jwtClaims decodes a compact JWS's payload without verifying it.
func jwtClaims(t testing.TB, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %.60q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWT payload %s: %v", b, err)
	}
	return m
}

func randomToken() string { return strings.TrimPrefix(strongPassword(), "Gh-") }

// --- the user agent --------------------------------------------------------

// oauth2Browser is a Go user agent that does what a browser and the login
// and consent pages' scripts do: follows redirects on the provider, signs
// in through POST /v1/auth with issue=cookie (the login page's script),
// grants consent as the consent page's script does, and stops at the
// client's redirect URI. Its cookie jar holds the session cookie; every
// request is a new connection, so through HAProxy the hops land on
// different nodes.
type oauth2Browser struct {
	t        *testing.T
	hc       *http.Client
	user     secret
	logins   int // logins the agent had to do
	consents int // consent pages it answered
	// loginPage401 counts login pages served as a 401 (Negotiate).
	loginPage401 int
	// spnego, when set, answers a 401 Negotiate with this header maker.
	spnego func() string
	// noConsent makes consent pages an outcome instead of answering them.
	noConsent bool
	// pin, when set, sends every request meant for the issuer to this node.
	pin    *Node
	issuer string
}

func (f *oauth2Fixture) browser(user secret) *oauth2Browser {
	f.t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := f.hapHTTP()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &oauth2Browser{t: f.t, hc: hc, user: user, issuer: f.lb}
}

// pinnedBrowser is a browser that talks to node nd only (its cookie jar
// is keyed by host name, so a session cookie set through the balancer is
// sent to every node).
func (b *oauth2Browser) pinnedTo(c *Cluster, nd *Node) *oauth2Browser {
	hc := c.HTTP()
	hc.Jar = b.hc.Jar
	hc.CheckRedirect = b.hc.CheckRedirect
	nb := *b
	nb.hc, nb.pin = hc, nd
	return &nb
}

// authOutcome is where an authorization ended.
type authOutcome struct {
	// Redirect is the final redirect to the client, with its query.
	Redirect *url.URL
	// Status and Body are the last page's when the provider did not
	// redirect to the client (an error page, or a consent page when
	// noConsent is set).
	Status int
	Body   string
	URL    string // the URL of that last page
	Hops   []string
}

// Code is the code of a successful redirect ("" otherwise).
func (o authOutcome) Code() string {
	if o.Redirect == nil {
		return ""
	}
	return o.Redirect.Query().Get("code")
}

var dataNextRe = regexp.MustCompile(`data-next="([^"]*)"`)

func isLoginPage(body string) bool { return strings.Contains(body, `id="name-form"`) }

// authorize runs an authorization request from the RP's URL to the redirect
// to redirectURI (or a page that is not a step of the flow).
func (b *oauth2Browser) authorize(start, redirectURI string) authOutcome {
	b.t.Helper()
	var o authOutcome
	u := start
	for hop := 0; hop < 16; hop++ {
		if b.pin != nil {
			u = pinTo(u, b.issuer, b.pin)
		}
		o.Hops = append(o.Hops, u)
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := b.hc.Do(req)
		if err != nil {
			b.t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cur, _ := url.Parse(u)
		if resp.StatusCode == http.StatusUnauthorized && b.spnego != nil && strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Negotiate") {
			req, _ = http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Authorization", b.spnego())
			if resp, err = b.hc.Do(req); err != nil {
				b.t.Fatalf("GET %s with Negotiate: %v", u, err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if resp.StatusCode/100 == 3 {
			loc, err := cur.Parse(resp.Header.Get("Location"))
			if err != nil {
				b.t.Fatalf("bad Location %q from %s", resp.Header.Get("Location"), u)
			}
			if strings.HasPrefix(loc.String(), redirectURI) {
				o.Redirect = loc
				return o
			}
			if loc.Path == "/ui/login" {
				next, err := cur.Parse(loc.Query().Get("next"))
				if err != nil || loc.Query().Get("next") == "" {
					b.t.Fatalf("login redirect without a next: %s", loc)
				}
				b.login(cur)
				u = next.String()
				continue
			}
			u = loc.String()
			continue
		}
		page := string(body)
		o.Status, o.Body, o.URL = resp.StatusCode, page, u
		if isLoginPage(page) {
			if resp.StatusCode == http.StatusUnauthorized {
				b.loginPage401++
			}
			next := cur.Query().Get("next")
			if m := dataNextRe.FindStringSubmatch(page); m != nil {
				next = html.UnescapeString(m[1])
			}
			if next == "" {
				b.t.Fatalf("login page at %s names no next page", u)
			}
			nu, _ := cur.Parse(next)
			b.login(cur)
			u = nu.String()
			continue
		}
		if resp.StatusCode == http.StatusOK && isConsentPage(page) && !b.noConsent {
			nu := b.consent(cur, page)
			if nu == nil {
				return o
			}
			if strings.HasPrefix(nu.String(), redirectURI) {
				o.Redirect = nu
				return o
			}
			u = nu.String()
			continue
		}
		return o
	}
	b.t.Fatalf("authorization did not end after 16 hops: %v", o.Hops)
	return o
}

// login signs in as the login page's script does: POST /v1/auth steps with
// issue=cookie on the page's origin.
func (b *oauth2Browser) login(page *url.URL) {
	b.t.Helper()
	b.logins++
	base := page.Scheme + "://" + page.Host
	sid := ""
	send := func(step map[string]any) map[string]any {
		body, _ := json.Marshal(map[string]any{"step": step, "issue": "cookie"})
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/auth", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Origin", base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if sid != "" {
			req.Header.Set(apiclient.HeaderAuthSession, sid)
		}
		resp, err := b.hc.Do(req)
		if err != nil {
			b.t.Fatalf("login step: %v", err)
		}
		var out struct {
			SessionID string         `json:"sessionid"`
			State     map[string]any `json:"state"`
		}
		if err := jsonDecode(resp, &out); err != nil {
			b.t.Fatalf("login step %s: %v", body, err)
		}
		if h := resp.Header.Get(apiclient.HeaderAuthSession); h != "" {
			sid = h
		} else if out.SessionID != "" {
			sid = out.SessionID
		}
		return out.State
	}
	st := send(map[string]any{"init": b.user.Name})
	for range 6 {
		switch {
		case st["success"] != nil:
			return
		case st["denied"] != nil:
			b.t.Fatalf("login of %s denied: %v", b.user.Name, st["denied"])
		case st["choose"] != nil:
			st = send(map[string]any{"begin": "password"})
		default:
			st = send(map[string]any{"cred": map[string]any{"password": b.user.Password}})
		}
	}
	b.t.Fatalf("login of %s did not end: %v", b.user.Name, st)
}

// isConsentPage recognises the provider's consent page.
func isConsentPage(body string) bool {
	return strings.Contains(body, `action="/ui/oauth2/consent"`)
}

var formRe = regexp.MustCompile(`(?is)<form[^>]*>.*?</form>`)
var attrRe = regexp.MustCompile(`(?i)([a-z\-]+)="([^"]*)"`)
var inputRe = regexp.MustCompile(`(?is)<(input|button)[^>]*>`)

func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(tag, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2])
	}
	return m
}

// consent answers a consent page by submitting its first form that
// allows (a plain HTML form post with its hidden fields and the Allow
// button's value, as a browser would), and returns where the provider
// sent the browser next (a redirect is required).
func (b *oauth2Browser) consent(page *url.URL, body string) *url.URL {
	b.t.Helper()
	b.consents++
	st, rb, loc := b.submitAllow(page, body)
	if st/100 != 3 || loc == nil {
		b.t.Fatalf("consent answered %d, want a redirect:\n%.400s", st, rb)
	}
	return loc
}

// submitAllow posts the page's first form that does not deny, with the
// button that does not deny, and returns the answer.
func (b *oauth2Browser) submitAllow(page *url.URL, body string) (int, string, *url.URL) {
	b.t.Helper()
	for _, form := range formRe.FindAllString(body, -1) {
		fa := attrs(form[:strings.Index(form, ">")+1])
		if !strings.EqualFold(fa["method"], "post") || strings.Contains(strings.ToLower(fa["action"]+fa["id"]), "deny") {
			continue
		}
		vals := url.Values{}
		for _, in := range inputRe.FindAllString(form, -1) {
			a := attrs(in)
			if a["name"] == "" {
				continue
			}
			if strings.HasPrefix(strings.ToLower(in), "<button") && strings.Contains(strings.ToLower(a["value"]), "deny") {
				continue
			}
			vals.Set(a["name"], a["value"])
		}
		action, _ := page.Parse(fa["action"])
		if b.pin != nil {
			action, _ = url.Parse(pinTo(action.String(), b.issuer, b.pin))
		}
		req, _ := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", page.Scheme+"://"+page.Host)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := b.hc.Do(req)
		if err != nil {
			b.t.Fatalf("POST %s: %v", action, err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var loc *url.URL
		if l := resp.Header.Get("Location"); l != "" {
			loc, _ = action.Parse(l)
		}
		return resp.StatusCode, string(rb), loc
	}
	b.t.Fatalf("no form that allows on the page %s:\n%s", page, body)
	return 0, "", nil
}
