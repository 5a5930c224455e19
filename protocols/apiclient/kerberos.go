package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// PathSPNEGO is the Kerberos login route (docs/api.md, docs/kerberos.md).
const PathSPNEGO = "/v1/auth/spnego"

// KerberosLogin is the answer of a successful SPNEGO login.
type KerberosLogin struct {
	Token   string    `json:"token"`
	Name    string    `json:"name"`
	Expires time.Time `json:"expires"`
}

// UnmarshalJSON takes "expires" as RFC 3339 (the API's convention) or as
// Unix seconds, so that a token is never lost over the form of its expiry.
func (k *KerberosLogin) UnmarshalJSON(b []byte) error {
	var raw struct {
		Token   string          `json:"token"`
		Name    string          `json:"name"`
		Expires json.RawMessage `json:"expires"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	k.Token, k.Name, k.Expires = raw.Token, raw.Name, time.Time{}
	if len(raw.Expires) == 0 || string(raw.Expires) == "null" {
		return nil
	}
	if s, err := strconv.ParseInt(string(raw.Expires), 10, 64); err == nil {
		k.Expires = time.Unix(s, 0)
		return nil
	}
	return json.Unmarshal(raw.Expires, &k.Expires)
}

// KerberosPaths returns the credential cache and krb5.conf the MIT tools
// would use: $KRB5CCNAME (a FILE: prefix removed: gokrb5 reads a plain
// path) or /tmp/krb5cc_<uid>, and $KRB5_CONFIG or /etc/krb5.conf (the
// first of a colon-separated list). Cache types gokrb5 cannot read (KCM:,
// KEYRING:, DIR:, MEMORY:, API:) are refused with what to do instead.
func KerberosPaths(getenv func(string) string) (ccache, krb5conf string, err error) {
	ccache = getenv("KRB5CCNAME")
	if rest, ok := strings.CutPrefix(ccache, "FILE:"); ok {
		ccache = rest
	} else if i := strings.Index(ccache, ":"); i > 0 && !strings.HasPrefix(ccache, "/") {
		return "", "", fmt.Errorf("KRB5CCNAME=%s: only FILE: credential caches can be read; run kinit -c FILE:/tmp/krb5cc_$(id -u) and set KRB5CCNAME to that", ccache)
	}
	if ccache == "" {
		ccache = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	}
	krb5conf, _, _ = strings.Cut(getenv("KRB5_CONFIG"), ":")
	if krb5conf == "" {
		krb5conf = "/etc/krb5.conf"
	}
	return ccache, krb5conf, nil
}

// KerberosClient is a gokrb5 client holding the ticket-granting ticket of
// the credential cache at ccachePath, with the KDCs of krb5confPath. It
// refuses a missing cache, a cache without a TGT and a TGT that expired
// before now, each with the advice to run kinit, rather than letting the
// first service-ticket request fail obscurely.
func KerberosClient(ccachePath, krb5confPath string, now time.Time) (*krbclient.Client, error) {
	cfg, err := krbconfig.Load(krb5confPath)
	// An unsupported directive (Kerberos v4 settings, say) leaves a usable
	// configuration: MIT's own tools ignore those lines too.
	var unsupported krbconfig.UnsupportedDirective
	if err != nil && (cfg == nil || !errors.As(err, &unsupported)) {
		return nil, fmt.Errorf("Kerberos configuration %s (KRB5_CONFIG): %w", krb5confPath, err)
	}
	cc, err := loadCCache(ccachePath)
	if err != nil {
		return nil, err
	}
	who := cc.DefaultPrincipal.PrincipalName.PrincipalNameString() + "@" + cc.DefaultPrincipal.Realm
	// The TGT of the cache's own realm, as NewFromCCache looks it up.
	var tgtEnd time.Time
	found := false
	for _, e := range cc.GetEntries() {
		if len(e.Server.PrincipalName.NameString) == 2 && e.Server.PrincipalName.NameString[0] == "krbtgt" &&
			e.Server.PrincipalName.NameString[1] == cc.DefaultPrincipal.Realm {
			tgtEnd, found = e.EndTime, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("the credential cache %s holds no ticket-granting ticket for %s: run kinit", ccachePath, who)
	}
	if !now.Before(tgtEnd) {
		return nil, fmt.Errorf("the Kerberos ticket of %s expired at %s: run kinit", who, tgtEnd.Local().Format(time.RFC3339))
	}
	// DisablePAFXFAST: Active Directory needs it, MIT does not mind.
	cl, err := krbclient.NewFromCCache(cc, cfg, krbclient.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("use the credential cache %s: %w (run kinit)", ccachePath, err)
	}
	return cl, nil
}

// loadCCache reads a FILE: credential cache. gokrb5's LoadCCache panics
// on an empty file and on some truncated ones: those are errors here.
func loadCCache(path string) (cc *credentials.CCache, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no Kerberos credential cache at %s (KRB5CCNAME): run kinit first", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read Kerberos credential cache: %w", err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("the Kerberos credential cache %s is empty: run kinit", path)
	}
	defer func() {
		if r := recover(); r != nil {
			cc, err = nil, fmt.Errorf("the Kerberos credential cache %s is damaged (%v): run kinit", path, r)
		}
	}()
	cc = new(credentials.CCache)
	if err := cc.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("the Kerberos credential cache %s does not parse (%w): run kinit", path, err)
	}
	return cc, nil
}

// DefaultSPN is the service principal a browser or curl asks a ticket for
// at baseURL: HTTP/<host>, without the port.
func DefaultSPN(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("server URL %q has no host to derive the service principal from", baseURL)
	}
	return "HTTP/" + strings.TrimSuffix(u.Hostname(), "."), nil
}

// LoginKerberos logs in with a Kerberos ticket (SPNEGO, RFC 4559) and uses
// the session token from then on. It asks for the challenge (401
// WWW-Authenticate: Negotiate), then sends one Authorization: Negotiate
// token, an AP-REQ for spn made from krb's tickets (gokrb5 fetches the
// service ticket from the KDC on first use and caches it; every call
// makes a new authenticator, so the server's replay check passes).
//
// gokrb5's spnego.Client is not used on purpose: it retries on every 401
// whose first challenge is Negotiate, so a server that refuses the token
// with the same challenge would make it loop, and it rewires the
// http.Client it is given (cookie jar, redirect policy), which this
// Client shares between calls.
//
// A refusal is an *Error carrying the server's reason.
func (c *Client) LoginKerberos(ctx context.Context, krb *krbclient.Client, spn string) (*KerberosLogin, error) {
	if krb == nil {
		return nil, errors.New("no Kerberos client")
	}
	if spn == "" {
		var err error
		if spn, err = DefaultSPN(c.BaseURL()); err != nil {
			return nil, err
		}
	}
	// First leg: the server must offer Negotiate, or Kerberos is off there.
	resp, err := c.spnegoLeg(ctx, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized || !offersNegotiate(resp.Header) {
		err := decodeError(resp)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil, fmt.Errorf("GET %s answered 200 without a Kerberos token: not a Gatehouse server?", PathSPNEGO)
		}
		return nil, fmt.Errorf("the server does not offer Kerberos logins: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()

	// Second leg: the AP-REQ. SetSPNEGOHeader gets the service ticket.
	probe, _ := http.NewRequest(http.MethodGet, c.BaseURL()+PathSPNEGO, nil)
	if err := spnego.SetSPNEGOHeader(krb, probe, spn); err != nil {
		hint := ""
		if ip := net.ParseIP(strings.TrimPrefix(spn, "HTTP/")); ip != nil {
			// curl and browsers ask for HTTP/<host as typed>: an IP
			// address rarely has a principal.
			hint = "; the URL names an IP address: use the server's host name or pass its service principal (--spn)"
		}
		return nil, fmt.Errorf("get a Kerberos service ticket for %s: %w%s", spn, err, hint)
	}
	resp, err = c.spnegoLeg(ctx, probe.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, decodeError(resp)
	}
	var out KerberosLogin
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode GET %s answer: %w", PathSPNEGO, err)
	}
	if out.Token == "" {
		return nil, fmt.Errorf("GET %s answered 200 without a token", PathSPNEGO)
	}
	c.SetToken(out.Token)
	return &out, nil
}

// spnegoLeg sends GET /v1/auth/spnego with the given Authorization (none
// when empty). The caller closes the body.
func (c *Client) spnegoLeg(ctx context.Context, authz string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL()+PathSPNEGO, nil)
	if err != nil {
		return nil, fmt.Errorf("build GET %s: %w", PathSPNEGO, err)
	}
	req.Header.Set("Accept", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
	}
	if v := resp.Header.Get(HeaderIndex); v != "" {
		if idx, err := strconv.ParseUint(v, 10, 64); err == nil {
			c.ObserveIndex(idx)
		}
	}
	return resp, nil
}

// offersNegotiate tells whether any WWW-Authenticate challenge is
// Negotiate (the first one, when a server lists several on one line).
func offersNegotiate(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(v), " ")
		scheme, _, _ = strings.Cut(scheme, ",")
		if strings.EqualFold(scheme, "Negotiate") {
			return true
		}
	}
	return false
}
