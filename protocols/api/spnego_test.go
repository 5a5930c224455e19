package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/spnego"
	"github.com/gatehouse-idm/gatehouse/protocols/spnego/spnegotest"
	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
)

// lockedBuf is a log sink safe for the handler and the test.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// spnegoAPI is a test API with Kerberos on: EXAMPLE.COM maps by name,
// OTHER.ORG only through listed principals.
func spnegoAPI(t *testing.T) (*testAPI, *lockedBuf) {
	t.Helper()
	a := newTestAPI(t)
	kt, err := spnegotest.Keytab(1)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuf{}
	a.srv.Log = slog.New(slog.NewTextHandler(logs, nil))
	a.srv.SPNEGODeps = SPNEGODeps{
		SPNEGO: &spnego.Acceptor{Keytab: spnego.StaticKeytab(kt), Realms: []string{spnegotest.Realm, "OTHER.ORG"},
			ServicePrincipals: []string{spnegotest.Service}},
		MapNameRealms: []string{spnegotest.Realm},
	}
	ctx := context.Background()
	actor := idm.Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}
	for _, n := range []string{"alice", "carol", "dave"} {
		if _, _, err := a.w.Svc.Create(ctx, actor, entry.Person, idm.Input{Name: &n}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := a.w.Svc.AddKerberosPrincipal(ctx, actor, "carol", "c.smith@OTHER.ORG"); err != nil {
		t.Fatal(err)
	}
	return a, logs
}

func negotiateHeader(t *testing.T, o spnegotest.Options) string {
	t.Helper()
	b, _, err := spnegotest.Mint(o)
	if err != nil {
		t.Fatal(err)
	}
	return spnegotest.Header(b)
}

func TestSPNEGOChallengeOffersNegotiateFirst(t *testing.T) {
	a, _ := spnegoAPI(t)
	w := a.do("GET", "/v1/auth/spnego", "", "", nil)
	if w.Code != http.StatusUnauthorized || len(w.Header().Values("WWW-Authenticate")) != 1 || w.Header().Get("WWW-Authenticate") != "Negotiate" {
		t.Fatalf("challenge: %d %v", w.Code, w.Header())
	}
	if b := decodeBody[errorBody](t, w); b.Code != codeNegotiate || !strings.Contains(b.Error, "Kerberos login is available") {
		t.Fatalf("challenge body %+v", b)
	}
	a.srv.SPNEGO = nil
	if w := a.do("GET", "/v1/auth/spnego", "", "", nil); w.Code != http.StatusNotFound || w.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("Kerberos off: %d %v", w.Code, w.Header())
	}
}

func TestSPNEGOLoginGivesASessionByNameOrByListedPrincipal(t *testing.T) {
	a, logs := spnegoAPI(t)
	for principal, o := range map[string]spnegotest.Options{
		"alice": {CName: "alice", Mutual: true},
		"carol": {CName: "c.smith", CRealm: "OTHER.ORG"},
	} {
		w := a.do("GET", "/v1/auth/spnego", "", "", map[string]string{"Authorization": negotiateHeader(t, o)})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", principal, w.Code, w.Body)
		}
		b := decodeBody[spnegoBody](t, w)
		c, err := a.srv.Signer.Verify(b.Token, time.Now())
		if err != nil || b.Name != principal || c.Name != principal || c.Mechanism != entry.MechKerberos || c.ReadWrite(time.Now()) ||
			!c.Expiry.Time().Equal(b.Expires) {
			t.Fatalf("%s: body %+v claims %+v %v", principal, b, c, err)
		}
		mutual := w.Header().Get("WWW-Authenticate")
		if o.Mutual != (strings.HasPrefix(mutual, "Negotiate ") && len(mutual) > 20) {
			t.Fatalf("%s: mutual %v, WWW-Authenticate %q", principal, o.Mutual, mutual)
		}
		// The session works like any other.
		if w := a.do("GET", "/v1/self", b.Token, "", nil); w.Code != http.StatusOK {
			t.Fatalf("%s: the session is refused: %d %s", principal, w.Code, w.Body)
		}
	}
	if !strings.Contains(logs.String(), "principal=c.smith@OTHER.ORG account=carol") {
		t.Fatalf("no login log line:\n%s", logs)
	}
}

func TestSPNEGOCookieIssue(t *testing.T) {
	a, _ := spnegoAPI(t)
	w := a.do("GET", "/v1/auth/spnego?issue=cookie", "", "", map[string]string{"Authorization": negotiateHeader(t, spnegotest.Options{})})
	if w.Code != http.StatusOK {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var sess *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieSession {
			sess = c
		}
	}
	if sess == nil || !sess.Secure || !sess.HttpOnly || sess.Path != "/" || sess.MaxAge <= 0 {
		t.Fatalf("session cookie %+v", sess)
	}
	if b := decodeBody[spnegoBody](t, w); b.Token != "" || b.Name != "alice" {
		t.Fatalf("the body carries the token too: %+v", b)
	}
	if w := a.do("GET", "/v1/auth/spnego?issue=pigeon", "", "", nil); w.Code != http.StatusBadRequest {
		t.Fatalf("bad issue: %d", w.Code)
	}
}

func TestSPNEGORefusalsCarryTheirReason(t *testing.T) {
	a, logs := spnegoAPI(t)
	ctx := context.Background()
	actor := idm.Actor{UUID: entry.UUIDIDMAdmin, Name: "idm_admin"}
	dis := true
	if _, _, err := a.w.Svc.Update(ctx, actor, entry.Person, "dave", idm.Input{Disabled: &dis}); err != nil {
		t.Fatal(err)
	}
	replayed := negotiateHeader(t, spnegotest.Options{})
	if w := a.do("GET", "/v1/auth/spnego", "", "", map[string]string{"Authorization": replayed}); w.Code != http.StatusOK {
		t.Fatalf("first use: %d %s", w.Code, w.Body)
	}
	now := time.Now()
	cases := []struct {
		name   string
		header string
		status int
		code   string
		text   string
	}{
		{"unmapped", negotiateHeader(t, spnegotest.Options{CName: "bob"}), 401, codeUnmapped, "principal bob@EXAMPLE.COM is not mapped to any account"},
		{"no name mapping in OTHER.ORG", negotiateHeader(t, spnegotest.Options{CName: "alice", CRealm: "OTHER.ORG"}), 401, codeUnmapped, "alice@OTHER.ORG"},
		{"a service principal", negotiateHeader(t, spnegotest.Options{CName: "host/alice"}), 401, codeUnmapped, "host/alice@EXAMPLE.COM"},
		{"wrong realm", negotiateHeader(t, spnegotest.Options{CRealm: "EVIL.ORG"}), 401, string(spnego.ReasonWrongRealm), "EVIL.ORG"},
		{"replay", replayed, 401, string(spnego.ReasonReplay), "already used"},
		{"tampered", negotiateHeader(t, spnegotest.Options{TamperAuth: true}), 401, string(spnego.ReasonIntegrity), "tampered"},
		{"expired", negotiateHeader(t, spnegotest.Options{Start: now.Add(-11 * time.Hour), End: now.Add(-time.Hour)}), 401, string(spnego.ReasonExpired), "expired"},
		{"clock skew", negotiateHeader(t, spnegotest.Options{At: now.Add(-time.Hour), Start: now.Add(-2 * time.Hour)}), 401, string(spnego.ReasonClockSkew), "clock"},
		{"malformed", "Negotiate AAAA", 401, string(spnego.ReasonMalformed), "SPNEGO"},
		{"disabled", negotiateHeader(t, spnegotest.Options{CName: "dave"}), 403, codeDisabled, "disabled"},
	}
	for _, c := range cases {
		w := a.do("GET", "/v1/auth/spnego", "", "", map[string]string{"Authorization": c.header})
		b := decodeBody[errorBody](t, w)
		if w.Code != c.status || b.Code != c.code || !strings.Contains(b.Error, c.text) {
			t.Fatalf("%s: %d %+v", c.name, w.Code, b)
		}
		if c.status == 401 && w.Header().Get("WWW-Authenticate") != "Negotiate" {
			t.Fatalf("%s: WWW-Authenticate %q", c.name, w.Header().Get("WWW-Authenticate"))
		}
		if !strings.Contains(logs.String(), "reason="+c.code) {
			t.Fatalf("%s: no log line with the reason:\n%s", c.name, logs)
		}
	}
	// Below the account's policy.
	if _, err := a.w.Svc.SetGroupPolicy(ctx, actor, "idm_all_persons", func(p *entry.Policy) error {
		p.CredentialTypeMinimum = entry.CredMFA
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w := a.do("GET", "/v1/auth/spnego", "", "", map[string]string{"Authorization": negotiateHeader(t, spnegotest.Options{})})
	if b := decodeBody[errorBody](t, w); w.Code != http.StatusForbidden || b.Code != codeBelowPolicy || !strings.Contains(b.Error, "mfa") {
		t.Fatalf("below policy: %d %+v", w.Code, b)
	}
}

func TestSPNEGOContinuationWhenKerberosIsNotFirst(t *testing.T) {
	a, _ := spnegoAPI(t)
	first := negotiateHeader(t, spnegotest.Options{Mechs: []asn1.ObjectIdentifier{spnegotest.OIDNTLM, gssapi.OIDKRB5.OID()}})
	w := a.do("GET", "/v1/auth/spnego", "", "", map[string]string{"Authorization": first})
	if v := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || !strings.HasPrefix(v, "Negotiate ") || len(v) < 20 {
		t.Fatalf("first leg: %d %q %s", w.Code, v, w.Body)
	}
	// The second leg needs nothing from the first: any node takes it.
	second := negotiateHeader(t, spnegotest.Options{Resp: true})
	if w := a.do("GET", "/v1/auth/spnego", "", "", map[string]string{"Authorization": second}); w.Code != http.StatusOK {
		t.Fatalf("second leg: %d %s", w.Code, w.Body)
	}
}
