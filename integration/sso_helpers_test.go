package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// ssoEnv is a three-node cluster behind HAProxy whose public origin
// (https://localhost, port 443, as the harness configures it) is the
// balancer: the test browser dials every "localhost:443" at HAProxy.
type ssoEnv struct {
	t     *testing.T
	c     *Cluster
	hap   *HAProxy
	admin *apiclient.Client
	roots *x509.CertPool
}

// startSSO starts the cluster. upstreamCAs are PEM certificates the nodes
// must trust to reach the upstream providers (SSL_CERT_FILE of the node
// processes) and the test browser too.
func startSSO(t *testing.T, upstreamCAs ...[]byte) *ssoEnv {
	t.Helper()
	return startSSOWith(t, "", upstreamCAs...)
}

// startSSOWith is startSSO with extra [cluster] lines.
func startSSOWith(t *testing.T, clusterExtra string, upstreamCAs ...[]byte) *ssoEnv {
	t.Helper()
	c := NewCluster(t, 3)
	c.ClusterExtra = clusterExtra
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(c.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	if len(upstreamCAs) > 0 {
		f := filepath.Join(c.Dir, "upstream-cas.pem")
		var all []byte
		for _, p := range upstreamCAs {
			all = append(all, p...)
			pool.AppendCertsFromPEM(p)
		}
		if err := os.WriteFile(f, all, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SSL_CERT_FILE", f)
	}
	c.StartAll()
	c.WaitHealthy()
	admin, _ := c.Admin(c.Nodes[0], "admin")
	hap := StartHAProxy(t, 0, c.Nodes)
	return &ssoEnv{t: t, c: c, hap: hap, admin: admin, roots: pool}
}

// leg is one request of a browser navigation.
type leg struct {
	URL    string
	Status int
	Node   string // X-Gatehouse-Node of the answer, "" when not a node
}

// browser is a cookie-keeping HTTP client opening one connection per
// request (round robin spreads the legs over the nodes).
type browser struct {
	t    *testing.T
	hc   *http.Client
	legs []leg
	// lastNode is the node of the last postJSON answer.
	lastNode string
}

func (e *ssoEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	hapAddr := fmt.Sprintf("127.0.0.1:%d", e.hap.Port)
	d := &net.Dialer{Timeout: 5 * time.Second}
	b := &browser{t: e.t}
	b.hc = &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: e.roots, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == "localhost:443" {
				addr = hapAddr
			}
			return d.DialContext(ctx, network, addr)
		},
	}, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if r := req.Response; r != nil {
			b.legs = append(b.legs, leg{URL: r.Request.URL.String(), Status: r.StatusCode, Node: r.Header.Get("X-Gatehouse-Node")})
		}
		if len(via) > 10 {
			return fmt.Errorf("too many redirects")
		}
		return nil
	}}
	return b
}

// get navigates to u following redirects; it returns the final status
// and body.
func (b *browser) get(u string) (int, string) {
	b.t.Helper()
	b.legs = nil
	resp, err := b.hc.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return b.arrive(resp)
}

// arrive reads and closes the last answer of a navigation and adds its leg
// (CheckRedirect added the redirect legs before it); it returns the final
// status and body.
func (b *browser) arrive(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.legs = append(b.legs, leg{URL: resp.Request.URL.String(), Status: resp.StatusCode, Node: resp.Header.Get("X-Gatehouse-Node")})
	return resp.StatusCode, string(body)
}

// legAt returns the first leg whose path starts with prefix.
func (b *browser) legAt(prefix string) (leg, bool) {
	for _, l := range b.legs {
		if u, err := url.Parse(l.URL); err == nil && strings.HasPrefix(u.Path, prefix) {
			return l, true
		}
	}
	return leg{}, false
}

// session is GET /v1/session with the browser's cookie.
func (b *browser) session() (name, mech string, ok bool) {
	b.t.Helper()
	resp, err := b.hc.Get("https://localhost/v1/session")
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Name      string `json:"name"`
		Mechanism string `json:"mechanism"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", false
	}
	json.NewDecoder(resp.Body).Decode(&s)
	return s.Name, s.Mechanism, true
}

// postJSON posts to the public origin with the browser's cookies.
func (b *browser) postJSON(path string, in any, out any) int {
	b.t.Helper()
	body, _ := json.Marshal(in)
	resp, err := b.hc.Post("https://localhost"+path, "application/json", strings.NewReader(string(body)))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	b.lastNode = resp.Header.Get("X-Gatehouse-Node")
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// createProvider creates a provider as admin and returns its uuid.
func (e *ssoEnv) createProvider(in map[string]any) string {
	e.t.Helper()
	var out struct {
		UUID string `json:"uuid"`
	}
	if _, err := e.admin.Do(context.Background(), "POST", "/v1/sso/providers", in, &out); err != nil {
		e.t.Fatalf("create provider %v: %v", in["name"], err)
	}
	if out.UUID == "" {
		e.t.Fatalf("create provider %v: no uuid", in["name"])
	}
	e.sync()
	return out.UUID
}

// sync waits until every node applied the admin's last write.
func (e *ssoEnv) sync() { waitApplied(e.t, e.c, e.admin.LastIndex()) }

// person reads a person as admin; ok false when it does not exist.
func (e *ssoEnv) person(name string) (*apiclient.Entry, bool) {
	var out apiclient.Entry
	if _, err := e.admin.Do(context.Background(), "GET", "/v1/person/"+url.PathEscape(name), nil, &out); err != nil {
		return nil, false
	}
	return &out, true
}

// crossNode checks that the begin and the return legs were answered by
// two different nodes.
func (b *browser) crossNode(what, returnPrefix string) {
	b.t.Helper()
	begin, ok1 := b.legAt("/ui/sso/login/")
	back, ok2 := b.legAt(returnPrefix)
	if !ok1 || !ok2 || begin.Node == "" || back.Node == "" {
		b.t.Fatalf("%s: legs without node names: %+v", what, b.legs)
	}
	if begin.Node == back.Node {
		b.t.Fatalf("%s: begin and return both at %s (round robin should spread them): %+v", what, begin.Node, b.legs)
	}
}
