package oauth2

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/idmtest"
	idmoauth2 "github.com/gatehouse-idm/gatehouse/idm/oauth2"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/metrics"
	"github.com/gatehouse-idm/gatehouse/protocols/api"
	"github.com/go-jose/go-jose/v4/jwt"
)

type oneNode struct{}

func (oneNode) HasState() bool                                  { return true }
func (oneNode) Leader() (id, apiAddr string)                    { return "n1", "https://localhost" }
func (oneNode) ConsistentIndex(context.Context) (uint64, error) { return 0, nil }

// Fixed ids of the test world.
const (
	aliceUUID  = "a1111111-1111-4111-8111-111111111111"
	usersUUID  = "b2222222-2222-4222-8222-222222222222"
	basicUUID  = "c3333333-3333-4333-8333-333333333333"
	publicUUID = "d4444444-4444-4444-8444-444444444444"
	legacyUUID = "e5555555-5555-4555-8555-555555555555"
	secret     = "s3cret-s3cret-s3cret"
	redirect   = "https://app.example.com/cb"
)

// testNode is one node wired like the real one: an api.Server whose Extra
// routes are the provider's, over httptest TLS.
type testNode struct {
	w     *idmtest.World
	p     *Provider
	srv   *httptest.Server
	api   *api.Server
	alice string // a session token of alice (session "n1.alice")
}

func propose(t testing.TB, w *idmtest.World, actor, typ string, body any) {
	t.Helper()
	cmd, err := fsm.NewCommand(typ, 1, randomString(8), time.Now().UnixMilli(), body)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Actor = actor
	res, err := w.Prop.Apply(context.Background(), cmd)
	if err != nil || res.Err != nil {
		t.Fatalf("%s: %v %v", typ, err, res.Err)
	}
}

func newTestNode(t testing.TB) *testNode { return newTestNodeID(t, "n1") }

func newTestNodeID(t testing.TB, nodeID string) *testNode {
	t.Helper()
	w := idmtest.New(t, nil)
	create := func(e *entry.Entry) {
		propose(t, w, entry.UUIDIDMAdmin, fsm.TypeEntryCreate, fsm.EntryCreate{Entry: e})
	}
	create(&entry.Entry{UUID: aliceUUID, Class: entry.Person, Name: "alice", DisplayName: "Alice", Mail: []string{"alice@example.com"}})
	create(&entry.Entry{UUID: usersUUID, Class: entry.Group, Name: "app_users", Members: []string{aliceUUID}})
	sealed, err := w.Sealer.Seal([]byte(secret), entry.OAuth2SecretAAD(basicUUID))
	if err != nil {
		t.Fatal(err)
	}
	maps := []entry.ScopeMap{{Group: usersUUID, Scopes: []string{"openid", "profile", "email", "groups", "offline_access", "read"}}}
	create(&entry.Entry{UUID: basicUUID, Class: entry.OAuth2Client, Name: "app", DisplayName: "The App", OAuth2: &entry.OAuth2Settings{
		Origin: "https://app.example.com", RedirectURIs: []string{redirect}, SealedSecret: sealed, ScopeMaps: maps,
		ClaimMaps: []entry.ClaimMap{{Claim: "roles", Group: usersUUID, Values: []string{"user", "reader"}, Join: "csv"}}}})
	create(&entry.Entry{UUID: publicUUID, Class: entry.OAuth2Client, Name: "cli", OAuth2: &entry.OAuth2Settings{Public: true,
		Origin: "http://127.0.0.1", RedirectURIs: []string{"http://127.0.0.1/cb"}, ScopeMaps: maps}})
	lsealed, _ := w.Sealer.Seal([]byte(secret), entry.OAuth2SecretAAD(legacyUUID))
	create(&entry.Entry{UUID: legacyUUID, Class: entry.OAuth2Client, Name: "legacy", OAuth2: &entry.OAuth2Settings{
		Origin: "https://old.example.com", RedirectURIs: []string{"https://old.example.com/cb"}, SealedSecret: lsealed,
		LegacyCrypto: true, ScopeMaps: maps}})

	log := slog.New(slog.DiscardHandler)
	s := &api.Server{Svc: w.Svc, Signer: w.Signer, State: w.FSM, Cluster: oneNode{}, NodeID: nodeID, Log: log, Now: time.Now,
		Extra: map[string]http.Handler{}, Metrics: metrics.NewHTTP(metrics.NewRegistry())}
	s.Auth = &auth.Engine{State: w.FSM, Hasher: w.Hasher, Signer: w.Signer, NodeID: "n1", Now: time.Now}
	n := &testNode{w: w, api: s}
	n.srv = httptest.NewUnstartedServer(nil)
	n.srv.StartTLS()
	t.Cleanup(n.srv.Close)
	n.p = &Provider{Issuer: n.srv.URL, NodeID: nodeID, State: w.FSM, Signer: w.Signer, Sealer: w.Sealer,
		Secrets: &idmoauth2.Secrets{Sealer: w.Sealer, Hasher: w.Hasher, Now: time.Now},
		Writer:  &idmoauth2.Writer{Prop: w.Prop, State: w.FSM, Now: time.Now},
		Session: s.CheckSession, Log: log, Now: time.Now,
		LoginPage: func(w http.ResponseWriter, status int, next string) { w.WriteHeader(status) }}
	for p, h := range n.p.Routes() {
		s.Extra[p] = h
	}
	h := s.Handler()
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle(api.RPCAPI+"/", s.ForwardedHandler(h))
	n.srv.Config.Handler = mux
	n.alice = n.session(t, "n1.alice")
	return n
}

// session signs a session token of alice with session id sid.
func (n *testNode) session(t testing.TB, sid string) string {
	t.Helper()
	now := time.Now()
	tok, err := n.w.Signer.Sign(token.Claims{Claims: jwt.Claims{Subject: aliceUUID, IssuedAt: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(8 * time.Hour))}, SessionID: sid, Name: "alice", Mechanism: entry.MechPasswordMFA})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// browserWith is a non-following client carrying the session cookie tok.
func (n *testNode) browserWith(tok string) *http.Client {
	c := n.srv.Client()
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cp.Transport = cookieTransport{base: c.Transport, cookie: &http.Cookie{Name: api.CookieSession, Value: tok}}
	return &cp
}

// browser is an HTTP client of the test server that does not follow
// redirects and carries alice's session cookie when logged in.
func (n *testNode) browser(loggedIn bool) *http.Client {
	c := n.srv.Client()
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if loggedIn {
		cp.Transport = cookieTransport{base: c.Transport, cookie: &http.Cookie{Name: api.CookieSession, Value: n.alice}}
	}
	return &cp
}

type cookieTransport struct {
	base   http.RoundTripper
	cookie *http.Cookie
}

func (c cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.AddCookie(c.cookie)
	return c.base.RoundTrip(r)
}
