package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	gspnego "github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/gatehouse-idm/gatehouse/ops/mitkdc"
)

// Helpers of the Kerberos tests: three real MIT realms, the users in them,
// and the clients that log in with their tickets (curl --negotiate,
// gokrb5, the gatehouse CLI).

const (
	// krbRealm is the nodes' own realm: accepted, and name@KRB maps to the
	// person called name.
	krbRealm = "EXAMPLE.COM"
	// partnerRealm is accepted but has no name rule: its principals must
	// be listed on a person.
	partnerRealm = "PARTNER.TEST"
	// foreignRealm trusts into krbRealm but is not accepted by the nodes.
	foreignRealm = "FOREIGN.TEST"
	// krbService is the service principal every node holds the key of
	// (one shared keytab): the host name of the nodes and of the balancer.
	krbService = "HTTP/localhost"
	// krbOtherService exists in the KDC, but no node holds its key.
	krbOtherService = "HTTP/otherhost"
)

// krbFixture is the Kerberos side of the test: the realms and the users'
// passwords.
type krbFixture struct {
	t                      *testing.T
	dir                    string
	main, partner, foreign *mitkdc.KDC
	// Keytab is the shared service keytab the nodes are configured with.
	Keytab   string
	password map[string]string // principal name@REALM → password
	cfg      *config.Config
}

// startKerberos starts the three realms (each trusted by krbRealm, so that
// their users get tickets for HTTP/localhost@EXAMPLE.COM), adds the users
// and the service principals and writes the shared keytab.
func startKerberos(t *testing.T, users map[string]string) *krbFixture {
	t.Helper()
	f := &krbFixture{t: t, dir: t.TempDir(), password: map[string]string{}}
	start := func(realm string) *mitkdc.KDC {
		d := filepath.Join(f.dir, strings.ToLower(realm))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		k, err := mitkdc.Start(d, realm)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				log := k.Log()
				if len(log) > 1500 {
					log = log[len(log)-1500:]
				}
				t.Logf("--- %s KDC log:\n%s", realm, log)
			}
			k.Stop()
		})
		return k
	}
	f.main, f.partner, f.foreign = start(krbRealm), start(partnerRealm), start(foreignRealm)
	for _, o := range []*mitkdc.KDC{f.partner, f.foreign} {
		if err := f.main.TrustFrom(o); err != nil {
			t.Fatal(err)
		}
	}
	for _, spn := range []string{krbService, krbOtherService} {
		if err := f.main.AddRandKey(spn); err != nil {
			t.Fatal(err)
		}
	}
	for p, pw := range users {
		if err := f.kdcOf(p).AddPrincipal(p, pw); err != nil {
			t.Fatal(err)
		}
		f.password[p] = pw
	}
	f.Keytab = filepath.Join(f.dir, "http.keytab")
	if err := f.main.Keytab(f.Keytab, krbService); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(f.main.Krb5Conf())
	if err != nil {
		t.Fatalf("gokrb5 reads the realm's krb5.conf: %v", err)
	}
	f.cfg = cfg
	return f
}

// ConfigExtra is the nodes' [kerberos] table.
func (f *krbFixture) ConfigExtra() string {
	return fmt.Sprintf(`[kerberos]
keytab = %s
realms = [%q, %q]
service_principals = [%q]
map_name_realms = [%q]
`, strconv.Quote(f.Keytab), krbRealm, partnerRealm, krbService, krbRealm)
}

func splitPrincipal(p string) (name, realm string) {
	i := strings.LastIndex(p, "@")
	return p[:i], p[i+1:]
}

func (f *krbFixture) kdcOf(principal string) *mitkdc.KDC {
	_, realm := splitPrincipal(principal)
	switch realm {
	case krbRealm:
		return f.main
	case partnerRealm:
		return f.partner
	case foreignRealm:
		return f.foreign
	}
	f.t.Fatalf("no realm for %s", principal)
	return nil
}

// Kinit makes a new credential cache for principal with kinit and returns
// its path; extra are further kinit options.
func (f *krbFixture) Kinit(principal string, extra ...string) string {
	f.t.Helper()
	cc, err := os.CreateTemp(f.dir, "cc-*")
	if err != nil {
		f.t.Fatal(err)
	}
	cc.Close()
	os.Remove(cc.Name())
	// The main realm's krb5.conf knows every realm and the trust paths.
	if err := f.main.Kinit(cc.Name(), principal, f.password[principal], extra...); err != nil {
		f.t.Fatal(err)
	}
	return cc.Name()
}

// Env is the environment of a client program using the cache at ccache.
func (f *krbFixture) Env(ccache string) []string {
	return append(f.main.Env(), "KRB5CCNAME=FILE:"+ccache)
}

// negotiateResult is what a Negotiate login got back.
type negotiateResult struct {
	Status int
	Body   string
	Token  string // the session token of a success
	Code   string // the error code of a refusal
	Error  string
	// Mutual is the token of the final answer's "WWW-Authenticate:
	// Negotiate <token>" (curl asks for mutual authentication).
	Mutual string
}

func parseNegotiate(status int, body []byte) negotiateResult {
	r := negotiateResult{Status: status, Body: string(body)}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"success", "token"} {
			if s, ok := m[k].(string); ok && s != "" {
				r.Token = s
			}
		}
		if s, ok := m["code"].(string); ok {
			r.Code = s
		}
		if s, ok := m["error"].(string); ok {
			r.Error = s
		}
		if s, ok := m["denied"].(string); ok && r.Error == "" {
			r.Error = s
		}
	}
	return r
}

// Curl logs in with curl --negotiate at url (https://localhost:PORT) from
// the cache at ccache. curl exits 0 on a 401: the status is read with -w.
func (f *krbFixture) Curl(ccache, url, ca string) negotiateResult {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bodyFile, headerFile := ccache+".body", ccache+".headers"
	cmd := exec.CommandContext(ctx, "curl", "-sS", "--negotiate", "-u", ":", "--cacert", ca,
		"-o", bodyFile, "-D", headerFile, "-w", "%{http_code}", url+"/v1/auth/spnego")
	cmd.Env = append(os.Environ(), f.Env(ccache)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		f.t.Fatalf("curl --negotiate %s: %v: %s", url, err, errb.String())
	}
	status, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		f.t.Fatalf("curl status %q: %v", out.String(), err)
	}
	body, _ := os.ReadFile(bodyFile)
	headers, _ := os.ReadFile(headerFile)
	os.Remove(bodyFile)
	os.Remove(headerFile)
	r := parseNegotiate(status, body)
	// -D holds every answer (the 401 challenge, then the final one): the
	// last block is the final answer's.
	blocks := strings.Split(strings.ReplaceAll(string(headers), "\r\n", "\n"), "\nHTTP/")
	for _, line := range strings.Split(blocks[len(blocks)-1], "\n") {
		name, value, ok := strings.Cut(line, ":")
		if v := strings.TrimSpace(value); ok && strings.EqualFold(name, "WWW-Authenticate") && len(v) > len("Negotiate ") {
			r.Mutual = strings.TrimSpace(v[len("Negotiate"):])
		}
	}
	return r
}

// GoClient is gokrb5's client for principal, logged in with its password.
func (f *krbFixture) GoClient(principal string) *client.Client {
	f.t.Helper()
	name, realm := splitPrincipal(principal)
	cl := client.NewWithPassword(name, realm, f.password[principal], f.cfg, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		f.t.Fatalf("gokrb5 login %s: %v", principal, err)
	}
	f.t.Cleanup(cl.Destroy)
	return cl
}

// GoClientFromCCache is gokrb5's client on a cache made by kinit.
func (f *krbFixture) GoClientFromCCache(ccache string) *client.Client {
	f.t.Helper()
	cc, err := credentials.LoadCCache(ccache) // a plain path: no FILE: prefix
	if err != nil {
		f.t.Fatal(err)
	}
	cl, err := client.NewFromCCache(cc, f.cfg, client.DisablePAFXFAST(true))
	if err != nil {
		f.t.Fatal(err)
	}
	return cl
}

// Header is a fresh "Negotiate <token>" for spn made by gokrb5's client.
func (f *krbFixture) Header(cl *client.Client, spn string) string {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://localhost/", nil)
	if err := gspnego.SetSPNEGOHeader(cl, req, spn); err != nil {
		f.t.Fatalf("SPNEGO token for %s: %v", spn, err)
	}
	return req.Header.Get("Authorization")
}

// ForgedHeader is a Negotiate token whose ticket this test sealed itself
// with the service's key (read from the keytab), valid from start to end:
// the only way to present an expired or not-yet-valid ticket without
// waiting out the servers' five minutes of tolerated clock skew. The
// authenticator is made now, as a client would.
func (f *krbFixture) ForgedHeader(cl *client.Client, start, end time.Time) string {
	f.t.Helper()
	kt, err := keytab.Load(f.Keytab)
	if err != nil {
		f.t.Fatal(err)
	}
	kvno, err := f.main.Kvno(krbService)
	if err != nil {
		f.t.Fatal(err)
	}
	cname := cl.Credentials.CName()
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, krbService)
	tkt, key, err := messages.NewTicket(cname, cl.Credentials.Domain(), sname, krbRealm, asn1.BitString{Bytes: make([]byte, 4), BitLength: 32},
		kt, etypeID.AES256_CTS_HMAC_SHA1_96, kvno, start, start, end, end)
	if err != nil {
		f.t.Fatalf("forge ticket: %v", err)
	}
	init, err := gspnego.NewNegTokenInitKRB5(cl, tkt, key)
	if err != nil {
		f.t.Fatal(err)
	}
	b, err := (&gspnego.SPNEGOToken{Init: true, NegTokenInit: init}).Marshal()
	if err != nil {
		f.t.Fatal(err)
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(b)
}

// Tamper flips one byte of a Negotiate token at position at from its end.
func Tamper(t *testing.T, header string, at int) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(header, "Negotiate "))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-at] ^= 0x5a
	return "Negotiate " + base64.StdEncoding.EncodeToString(raw)
}

// SendNegotiate sends GET /v1/auth/spnego with an Authorization header.
func SendNegotiate(t *testing.T, hc *http.Client, base, header string) negotiateResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/auth/spnego", nil)
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s/v1/auth/spnego: %v", base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := parseNegotiate(resp.StatusCode, b)
	if resp.StatusCode == http.StatusUnauthorized && header == "" {
		r.Error = strings.Join(resp.Header.Values("WWW-Authenticate"), " | ")
	}
	return r
}

// GoSPNEGO logs in with gokrb5's SPNEGO HTTP client (which answers the
// 401 challenge itself) at base.
func (f *krbFixture) GoSPNEGO(cl *client.Client, hc *http.Client, base string) negotiateResult {
	f.t.Helper()
	sc := gspnego.NewClient(cl, hc, krbService)
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/auth/spnego", nil)
	resp, err := sc.Do(req)
	if err != nil {
		f.t.Fatalf("gokrb5 SPNEGO client at %s: %v", base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return parseNegotiate(resp.StatusCode, b)
}
