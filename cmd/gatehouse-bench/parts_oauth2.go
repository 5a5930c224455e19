package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

// The OAuth2 parts: grants per second and p50/p99 of the provider's token
// endpoint for client credentials, the code flow (authorize with a
// remembered consent, then the code exchange) and refresh-token rotation,
// on one follower and through HAProxy. The client-credentials load can also
// point at any OIDC provider (-issuer, -client-id, -client-secret), so the
// same run measures a peer.

// oauth2Setup is the benchmark's OAuth2 client and a browser session of the
// password user that has consented to it.
type oauth2Setup struct {
	clientID, secret, redirect string
	cookie                     *http.Cookie
}

var (
	oauth2Mu     sync.Mutex
	oauth2States = map[*bench]*oauth2Setup{}
)

const (
	oauth2Group   = "bench-oauth2"
	oauth2Client  = "bench-oauth2-client"
	oauth2Scopes  = "openid profile offline_access"
	sessionCookie = "__Host-gatehouse-session"
)

// oauth2 makes the client (basic, PKCE on), its scope map for a group
// holding the password user, logs the user in with a session cookie and
// gives consent once, on first use.
func (b *bench) oauth2(ctx context.Context) (*oauth2Setup, error) {
	oauth2Mu.Lock()
	defer oauth2Mu.Unlock()
	if s := oauth2States[b]; s != nil {
		return s, nil
	}
	u, err := b.passwordUser(ctx)
	if err != nil {
		return nil, err
	}
	api := b.leader.API
	s := &oauth2Setup{clientID: oauth2Client, redirect: "https://bench-rp.example.test/callback"}
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{http.MethodPost, "/v1/group", map[string]any{"name": oauth2Group, "members": []string{u.name}}, http.StatusCreated},
		{http.MethodPost, "/v1/oauth2", map[string]any{"name": oauth2Client, "displayname": "Bench client", "origin": "https://bench-rp.example.test", "public": false}, 0},
		{http.MethodPost, "/v1/oauth2/" + oauth2Client + "/redirect_urls", map[string]any{"url": s.redirect}, 0},
		{http.MethodPost, "/v1/oauth2/" + oauth2Client + "/scope_maps/" + oauth2Group, map[string]any{"scopes": strings.Fields(oauth2Scopes)}, 0},
	}
	for _, st := range steps {
		if err := b.admin.doOK(ctx, st.method, api+st.path, st.body, nil, st.want); err != nil {
			return nil, fmt.Errorf("oauth2 set-up: %s %s: %w", st.method, st.path, err)
		}
	}
	var sec map[string]any
	if err := b.admin.doOK(ctx, http.MethodGet, api+"/v1/oauth2/"+oauth2Client+"/basic_secret", nil, &sec, 0); err != nil {
		return nil, fmt.Errorf("oauth2 set-up: read the client secret: %w", err)
	}
	for _, k := range []string{"secret", "basic_secret", "client_secret"} {
		if v, _ := sec[k].(string); v != "" {
			s.secret = v
		}
	}
	if s.secret == "" {
		return nil, fmt.Errorf("oauth2 set-up: no secret in %v", sec)
	}
	if err := b.waitAllApplied(ctx); err != nil {
		return nil, err
	}
	if s.cookie, err = cookieLogin(ctx, b.anon.hc, api, u.name, u.pw); err != nil {
		return nil, fmt.Errorf("oauth2 set-up: %w", err)
	}
	if _, _, err := s.authorize(ctx, b.anon.hc, api, true); err != nil {
		return nil, fmt.Errorf("oauth2 set-up: first authorization (consent): %w", err)
	}
	if err := b.waitAllApplied(ctx); err != nil {
		return nil, err
	}
	oauth2States[b] = s
	return s, nil
}

// doOK sends one JSON request like do, accepting any 2xx when want is 0.
func (c *client) doOK(ctx context.Context, method, u string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if (want != 0 && resp.StatusCode != want) || resp.StatusCode/100 != 2 {
		return &httpError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(raw[:min(len(raw), 300)]))}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode %.200s: %w", method, u, raw, err)
		}
	}
	return nil
}

// cookieLogin logs in with issue=cookie (as the login page does) and
// returns the session cookie.
func cookieLogin(ctx context.Context, hc *http.Client, base, name, password string) (*http.Cookie, error) {
	sid := ""
	var cookie *http.Cookie
	for i, step := range []any{map[string]any{"init": name}, map[string]any{"begin": "password"}, map[string]any{"cred": map[string]string{"password": password}}} {
		body, _ := json.Marshal(map[string]any{"step": step, "issue": "cookie"})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/auth", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sid != "" {
			req.Header.Set("X-Gatehouse-Auth-Session", sid)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("cookie login step %d: %w", i+1, err)
		}
		var a authAnswer
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &a) != nil {
			return nil, fmt.Errorf("cookie login step %d: HTTP %d: %s", i+1, resp.StatusCode, raw)
		}
		if v := resp.Header.Get("X-Gatehouse-Auth-Session"); v != "" {
			sid = v
		} else if a.SessionID != "" {
			sid = a.SessionID
		}
		for _, c := range resp.Cookies() {
			if c.Name == sessionCookie {
				cookie = c
			}
		}
	}
	if cookie == nil {
		return nil, errors.New("cookie login: no session cookie")
	}
	return cookie, nil
}

func pkcePair() (verifier, challenge string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

var (
	formRe  = regexp.MustCompile(`(?is)<form[^>]*>.*?</form>`)
	inputRe = regexp.MustCompile(`(?is)<(?:input|button)[^>]*>`)
	attrRe  = regexp.MustCompile(`(?i)([a-z\-]+)="([^"]*)"`)
)

func attrsOf(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(tag, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2])
	}
	return m
}

// authorize runs one authorization at base with the session cookie: GET
// /oauth2/authorize, then the continuation under /ui/oauth2/ (redirects
// on the issuer are sent to base), until the redirect to the client.
// consent answers a consent page (the first time only). It returns the
// code and the PKCE verifier.
func (s *oauth2Setup) authorize(ctx context.Context, hc *http.Client, base string, consent bool) (code, verifier string, err error) {
	verifier, challenge := pkcePair()
	q := url.Values{"response_type": {"code"}, "client_id": {s.clientID}, "redirect_uri": {s.redirect}, "scope": {oauth2Scopes},
		"state": {"bench"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	next := base + "/oauth2/authorize?" + q.Encode()
	method, form := http.MethodGet, url.Values(nil)
	for range 6 {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequestWithContext(ctx, method, next, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", base)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		req.AddCookie(s.cookie)
		resp, err := noRedirect(hc).Do(req)
		if err != nil {
			return "", "", err
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		method, form = http.MethodGet, nil
		if resp.StatusCode/100 == 3 {
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				return "", "", fmt.Errorf("bad Location %q", resp.Header.Get("Location"))
			}
			if strings.HasPrefix(loc.String(), s.redirect) {
				if c := loc.Query().Get("code"); c != "" {
					return c, verifier, nil
				}
				return "", "", fmt.Errorf("redirect to the client without a code: %s", loc)
			}
			next = base + loc.RequestURI() // the issuer's URL, sent to base
			continue
		}
		if resp.StatusCode == http.StatusOK && consent {
			if f := formRe.Find(page); f != nil {
				fa := attrsOf(string(f[:bytes.IndexByte(f, '>')+1]))
				form = url.Values{}
				for _, in := range inputRe.FindAll(f, -1) {
					if a := attrsOf(string(in)); a["name"] != "" && !strings.Contains(strings.ToLower(a["value"]), "deny") {
						form.Set(a["name"], a["value"])
					}
				}
				action, _ := url.Parse(fa["action"])
				next, method = base+action.RequestURI(), http.MethodPost
				continue
			}
		}
		if len(page) > 300 {
			page = page[:300]
		}
		return "", "", fmt.Errorf("authorize: HTTP %d at %s: %s", resp.StatusCode, next, page)
	}
	return "", "", errors.New("authorize: too many hops")
}

func noRedirect(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// exchange redeems a code from authorize at base's token endpoint.
func (s *oauth2Setup) exchange(ctx context.Context, hc *http.Client, base, code, verifier string) (tokenResponse, error) {
	return tokenRequest(ctx, hc, base+"/oauth2/token", s.clientID, s.secret, url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {s.redirect}, "code_verifier": {verifier}})
}

// tokenRequest posts a grant to endpoint with HTTP Basic client
// authentication (RFC 6749 2.3.1).
func tokenRequest(ctx context.Context, hc *http.Client, endpoint, id, secret string, form url.Values) (tokenResponse, error) {
	var out tokenResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := hc.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		if len(raw) > 300 {
			raw = raw[:300]
		}
		return out, &httpError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(raw))}
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.AccessToken == "" {
		return out, fmt.Errorf("token answer without an access token: %.200s", raw)
	}
	return out, nil
}

// oauth2Target is one run of a part: on one follower, or through HAProxy.
type oauth2Target struct {
	workers    int
	base, what string
}

// oauth2Targets sets up the OAuth2 client and session (once) and returns
// the one-follower and the balancer runs of a part.
func (b *bench) oauth2Targets(ctx context.Context) (*oauth2Setup, []oauth2Target, error) {
	s, err := b.oauth2(ctx)
	if err != nil {
		return nil, nil, err
	}
	h, err := b.balancer(ctx)
	if err != nil {
		return nil, nil, err
	}
	cores := runtime.NumCPU()
	target := b.follower()
	return s, []oauth2Target{{2 * cores, target.API, target.ID}, {len(b.c.nodes) * 2 * cores, h.URL(), "HAProxy → 3 nodes"}}, nil
}

// oauth2CC: client-credentials grants of the basic client.
func (b *bench) oauth2CC(ctx context.Context) error {
	s, targets, err := b.oauth2Targets(ctx)
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	for _, r := range targets {
		b.logf("oauth2-cc: %d clients on %s for %v", r.workers, r.what, b.opt.duration)
		res := runLoad(ctx, r.workers, b.opt.duration, 0, func(ctx context.Context, _ int, _ int64) error {
			_, err := tokenRequest(ctx, b.anon.hc, r.base+"/oauth2/token", s.clientID, s.secret, form)
			return err
		})
		if err := b.record(ctx, "oauth2-cc", loadRow{"OAuth2 client credentials grant, " + r.what, res},
			figure{"client-credentials grants per core, " + r.what, fmt.Sprintf("%.0f /s", res.Rate()/float64(runtime.NumCPU())),
				"Keycloak's published sizing: about 120 per vCPU"}); err != nil {
			return err
		}
	}
	return nil
}

// oauth2Code: the code flow in two timed halves: authorizations with the
// consented session (GET /oauth2/authorize and its /ui/oauth2/
// continuation, up to the redirect with the code) for the duration, then
// the exchange of every code those produced (codes live 60 s, and the
// exchanges are faster than the authorizations).
func (b *bench) oauth2Code(ctx context.Context) error {
	s, targets, err := b.oauth2Targets(ctx)
	if err != nil {
		return err
	}
	dur := min(b.opt.duration, 20*time.Second)
	for _, r := range targets {
		b.logf("oauth2-code: %d clients authorizing on %s for %v", r.workers, r.what, dur)
		type issued struct{ code, verifier string }
		var mu sync.Mutex
		var codes []issued
		res := runLoad(ctx, r.workers, dur, 0, func(ctx context.Context, _ int, _ int64) error {
			code, v, err := s.authorize(ctx, b.anon.hc, r.base, false)
			if err == nil {
				mu.Lock()
				codes = append(codes, issued{code, v})
				mu.Unlock()
			}
			return err
		})
		if err := b.record(ctx, "oauth2-code authorize", loadRow{"OAuth2 authorize, consent remembered (2 requests), " + r.what, res}); err != nil {
			return err
		}
		b.logf("oauth2-code: exchanging %d codes on %s", len(codes), r.what)
		res = runLoad(ctx, r.workers, 0, int64(len(codes)), func(ctx context.Context, _ int, seq int64) error {
			c := codes[seq]
			_, err := s.exchange(ctx, b.anon.hc, r.base, c.code, c.verifier)
			return err
		})
		if err := b.record(ctx, "oauth2-code exchange", loadRow{"OAuth2 code exchange (ID + access + refresh token), " + r.what, res}); err != nil {
			return err
		}
	}
	return nil
}

// oauth2Refresh: refresh-token rotation, each client on its own chain
// (every use is a Raft write: the generation used).
func (b *bench) oauth2Refresh(ctx context.Context) error {
	s, targets, err := b.oauth2Targets(ctx)
	if err != nil {
		return err
	}
	for _, r := range targets {
		chains := make([]string, r.workers)
		for i := range chains {
			code, v, err := s.authorize(ctx, b.anon.hc, r.base, false)
			if err != nil {
				return fmt.Errorf("oauth2-refresh: %w", err)
			}
			tok, err := s.exchange(ctx, b.anon.hc, r.base, code, v)
			if err != nil {
				return fmt.Errorf("oauth2-refresh: exchange: %w", err)
			}
			if tok.RefreshToken == "" {
				return errors.New("oauth2-refresh: no refresh token (offline_access)")
			}
			chains[i] = tok.RefreshToken
		}
		b.logf("oauth2-refresh: %d clients on %s for %v", r.workers, r.what, b.opt.duration)
		res := runLoad(ctx, r.workers, b.opt.duration, 0, func(ctx context.Context, w int, _ int64) error {
			tok, err := tokenRequest(ctx, b.anon.hc, r.base+"/oauth2/token", s.clientID, s.secret,
				url.Values{"grant_type": {"refresh_token"}, "refresh_token": {chains[w]}})
			if err != nil {
				return err
			}
			chains[w] = tok.RefreshToken
			return nil
		})
		if err := b.record(ctx, "oauth2-refresh", loadRow{"OAuth2 refresh (rotation, a Raft write), " + r.what, res}); err != nil {
			return err
		}
	}
	return nil
}

// externalOptions point the client-credentials load at any provider.
type externalOptions struct {
	issuer, clientID, clientSecret, caFile, scope string
	workers                                       int
}

// runExternalCC measures client-credentials grants at any OIDC provider:
// discovery at issuer, then opt.workers closed-loop clients for duration.
// No cluster is started.
func runExternalCC(ctx context.Context, ext externalOptions, dur time.Duration, out, errOut io.Writer) error {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if ext.caFile != "" {
		pem, err := os.ReadFile(ext.caFile)
		if err != nil {
			return fmt.Errorf("-issuer-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-issuer-ca %s holds no PEM certificate", ext.caFile)
		}
		tlsConf.RootCAs = pool
	}
	workers := ext.workers
	if workers <= 0 {
		workers = 2 * runtime.NumCPU()
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf,
		MaxIdleConnsPerHost: workers, MaxIdleConns: workers, IdleConnTimeout: 90 * time.Second}}
	defer hc.CloseIdleConnections()
	disc := strings.TrimSuffix(ext.issuer, "/") + "/.well-known/openid-configuration"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, disc, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("discovery %s: %w", disc, err)
	}
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &meta) != nil || meta.TokenEndpoint == "" {
		return fmt.Errorf("discovery %s: HTTP %d: %.200s", disc, resp.StatusCode, raw)
	}
	if meta.Issuer != ext.issuer {
		fmt.Fprintf(errOut, "note: the discovery document names issuer %q (asked for %q)\n", meta.Issuer, ext.issuer)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if ext.scope != "" {
		form.Set("scope", ext.scope)
	}
	if _, err := tokenRequest(ctx, hc, meta.TokenEndpoint, ext.clientID, ext.clientSecret, form); err != nil {
		return fmt.Errorf("first client-credentials grant at %s: %w", meta.TokenEndpoint, err)
	}
	fmt.Fprintf(errOut, "%s  oauth2-cc: %d clients on %s for %v\n", time.Now().Format("15:04:05"), workers, meta.TokenEndpoint, dur)
	res := runLoad(ctx, workers, dur, 0, func(ctx context.Context, _ int, _ int64) error {
		_, err := tokenRequest(ctx, hc, meta.TokenEndpoint, ext.clientID, ext.clientSecret, form)
		return err
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	printTables(out, []loadRow{{"OAuth2 client credentials grant, " + meta.Issuer, res}}, []figure{
		{"client-credentials grants per core of this machine", fmt.Sprintf("%.0f /s", res.Rate()/float64(runtime.NumCPU())), "the provider may run elsewhere"},
	})
	return allFailed("oauth2-cc", res)
}
