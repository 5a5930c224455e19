package oidcup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/oauth2"
)

const wellKnownSuffix = "/.well-known/openid-configuration"

// maxBody bounds every response read from a provider: discovery documents,
// JWKS and user info are a few KiB; a hostile provider must not make us
// buffer more.
const maxBody = 1 << 20

// document is the part of the discovery document we use.
type document struct {
	Issuer      string   `json:"issuer"`
	AuthURL     string   `json:"authorization_endpoint"`
	TokenURL    string   `json:"token_endpoint"`
	UserInfoURL string   `json:"userinfo_endpoint"`
	JWKSURL     string   `json:"jwks_uri"`
	Algorithms  []string `json:"id_token_signing_alg_values_supported"`
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`

	// fetched is the URL the document came from (for reports).
	fetched string
}

// splitDiscoveryURL returns the .well-known URL to fetch and the issuer we
// expect. exact is false when the caller gave the .well-known URL, which
// cannot say whether the issuer ends in "/" (see doc.go).
func splitDiscoveryURL(raw string) (wellKnown, issuer string, exact bool, err error) {
	if err := checkURL("discovery URL", raw); err != nil {
		return "", "", false, err
	}
	if strings.HasSuffix(raw, wellKnownSuffix) {
		return raw, strings.TrimSuffix(raw, wellKnownSuffix), false, nil
	}
	return strings.TrimSuffix(raw, "/") + wellKnownSuffix, raw, true, nil
}

// getJSON fetches url and decodes a JSON body into v.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building request for %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("could not reach %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", url, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("%s answered more than %d bytes", url, maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "" && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		// Some providers send text/plain; only refuse what is clearly not JSON.
		if ct == "text/html" {
			return fmt.Errorf("%s answered an HTML page, not JSON (is the URL right?)", url)
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s did not answer valid JSON: %w", url, err)
	}
	return nil
}

// discover fetches and checks the discovery document.
func discover(ctx context.Context, client *http.Client, discoveryURL string) (*document, error) {
	wellKnown, issuer, exact, err := splitDiscoveryURL(discoveryURL)
	if err != nil {
		return nil, err
	}
	var d document
	if err := getJSON(ctx, client, wellKnown, &d); err != nil {
		return nil, fmt.Errorf("fetching the discovery document: %w", err)
	}
	d.fetched = wellKnown
	if d.Issuer != issuer && (exact || d.Issuer != issuer+"/") {
		return nil, &issuerError{configured: issuer, discovered: d.Issuer, diff: describeIssuerDiff(issuer, d.Issuer)}
	}
	var missing []string
	if d.AuthURL == "" {
		missing = append(missing, "authorization_endpoint")
	}
	if d.TokenURL == "" {
		missing = append(missing, "token_endpoint")
	}
	if d.JWKSURL == "" {
		missing = append(missing, "jwks_uri")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the discovery document at %s lacks %s", wellKnown, strings.Join(missing, ", "))
	}
	if len(d.Algorithms) > 0 && !anyAllowed(d.Algorithms) {
		return nil, &algError{alg: strings.Join(d.Algorithms, ", ")}
	}
	return &d, nil
}

// authStyle picks the client authentication the provider says it takes.
// Discovery's default is client_secret_basic. Knowing it avoids x/oauth2's
// auto-detection, which on any refusal re-sends the code the other way and
// so reports the replay ("code already used") instead of the real reason.
func (d *document) authStyle() oauth2.AuthStyle {
	if len(d.AuthMethods) == 0 || slices.Contains(d.AuthMethods, "client_secret_basic") {
		return oauth2.AuthStyleInHeader
	}
	if slices.Contains(d.AuthMethods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleAutoDetect
}

func anyAllowed(algs []string) bool {
	for _, a := range algs {
		for _, ok := range allowedAlgs {
			if a == ok {
				return true
			}
		}
	}
	return false
}
