package oidcup

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

// checkTimeout bounds each request of a connection test so that a
// black-holed provider answers the admin in seconds.
const checkTimeout = 10 * time.Second

// Test reaches the provider and reports, in words, what worked: for OIDC
// the discovery document (and its issuer), the signing keys and the token
// and user-info endpoints; for plain OAuth2 the three endpoints (and the
// JWKS when configured). It stops after a failure later checks depend on.
func Test(ctx context.Context, c Config, oauth2Only bool) []upstream.Check {
	client := httpClient(c)
	var out []upstream.Check
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, upstream.Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	if err := checkClient(c); err != nil {
		add("Client settings", false, "Incomplete: %v.", err)
	} else {
		add("Client settings", true, "Client id %q and callback URL %s are set.", c.ClientID, c.RedirectURL)
	}

	if oauth2Only {
		for _, e := range []struct{ name, url, method string }{
			{"Authorization endpoint", c.AuthURL, http.MethodGet},
			{"Token endpoint", c.TokenURL, http.MethodPost},
			{"User info endpoint", c.UserInfoURL, http.MethodGet},
		} {
			if err := checkURL(e.name, e.url); err != nil {
				add(e.name, false, "Not configured: %v.", err)
				continue
			}
			ok, detail := reachable(ctx, client, e.method, e.url)
			add(e.name, ok, "%s", detail)
		}
		if c.JWKSURL != "" {
			ok, detail := checkJWKS(ctx, client, c.JWKSURL)
			add("Signing keys", ok, "%s", detail)
		}
		return out
	}

	dctx, cancel := context.WithTimeout(ctx, checkTimeout)
	d, err := discover(dctx, client, c.DiscoveryURL)
	cancel()
	if err != nil {
		add("Discovery", false, "%v.", err)
		return out
	}
	algs := "not stated"
	if len(d.Algorithms) > 0 {
		algs = strings.Join(d.Algorithms, ", ")
	}
	add("Discovery", true, "Fetched the discovery document from %s; the issuer is %s (matches the configuration); it signs ID tokens with: %s.", d.fetched, d.Issuer, algs)

	ok, detail := checkJWKS(ctx, client, d.JWKSURL)
	add("Signing keys", ok, "%s", detail)

	ok, detail = reachable(ctx, client, http.MethodPost, d.TokenURL)
	add("Token endpoint", ok, "%s", detail)

	if d.UserInfoURL == "" {
		add("User info endpoint", true, "The provider has no user info endpoint; user details come from the ID token alone.")
	} else {
		ok, detail = reachable(ctx, client, http.MethodGet, d.UserInfoURL)
		add("User info endpoint", ok, "%s", detail)
	}
	return out
}

// checkJWKS fetches a key set and says how many keys, of which algorithms.
func checkJWKS(ctx context.Context, client *http.Client, url string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			Use string `json:"use"`
		} `json:"keys"`
	}
	if err := getJSON(ctx, client, url, &set); err != nil {
		return false, fmt.Sprintf("Could not fetch the signing keys: %v.", err)
	}
	var descs []string
	usable := 0
	for _, k := range set.Keys {
		if k.Use == "enc" {
			continue
		}
		switch {
		case k.Alg != "" && slices.Contains(allowedAlgs, k.Alg):
			usable++
			descs = append(descs, k.Alg)
		case k.Alg == "" && k.Kty != "oct" && k.Kty != "":
			usable++
			descs = append(descs, k.Kty+" key (algorithm not stated)")
		default:
			descs = append(descs, fmt.Sprintf("%s key refused (only asymmetric algorithms are accepted)", clean(k.Alg+" "+k.Kty, 32)))
		}
	}
	if usable == 0 {
		return false, fmt.Sprintf("The key set at %s holds no usable signing key (%d keys: %s).", url, len(set.Keys), strings.Join(descs, ", "))
	}
	return true, fmt.Sprintf("Fetched %d signing key(s) from %s: %s.", usable, url, strings.Join(descs, ", "))
}

// reachable sends a request without credentials: any answer below 500
// (400, 401 or 405 are expected) means the endpoint is there.
func reachable(ctx context.Context, client *http.Client, method, url string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("grant_type=authorization_code")
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return false, fmt.Sprintf("%s is not a usable URL: %v.", url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, fmt.Sprintf("Could not reach %s: %v.", url, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return false, fmt.Sprintf("%s is reachable but answered %s (a server error).", url, resp.Status)
	}
	return true, fmt.Sprintf("%s is reachable (answered %s to a probe without credentials).", url, resp.Status)
}
