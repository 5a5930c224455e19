package integration

import (
	"encoding/pem"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"
)

// zitadelOP is zitadel/oidc's example OpenID provider (an implementation
// we did not write: its own discovery, signing keys, PKCE, client
// authentication, login form) on an httptest TLS server at 127.0.0.1,
// with its issuer set to that server's URL.
type zitadelOP struct {
	srv     *httptest.Server
	users   *zitadelUsers
	clients map[string]*storage.Client
}

// zitadelUsers is the OP's user store. Users are found at the login form
// by a login key of their own, so a user's preferred_username (the
// storage's Username) may be empty to exercise the username fallbacks.
type zitadelUsers struct {
	mu      sync.Mutex
	byLogin map[string]*storage.User
}

func (u *zitadelUsers) GetUserByID(id string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.byLogin {
		if x.ID == id {
			return x
		}
	}
	return nil
}

func (u *zitadelUsers) GetUserByUsername(login string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byLogin[login]
}

func (u *zitadelUsers) ExampleClientID() string { return storage.ServiceUserID }

func newZitadelOP(t *testing.T) *zitadelOP {
	t.Helper()
	z := &zitadelOP{users: &zitadelUsers{byLogin: map[string]*storage.User{}}, clients: map[string]*storage.Client{}}
	var h http.Handler
	ready := make(chan struct{})
	z.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-ready
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(z.srv.Close)
	// The issuer is exactly the server's URL (no trailing slash): our
	// relying party checks it against discovery character for character.
	h = exampleop.SetupServer(z.srv.URL, storage.NewStorageWithClients(z.users, z.clients), nil, false)
	close(ready)
	return z
}

// addUser registers a user who logs in at the OP's form with login/password.
func (z *zitadelOP) addUser(login, password string, u storage.User) {
	u.Password = password
	u.PreferredLanguage = language.English
	z.users.mu.Lock()
	z.users.byLogin[login] = &u
	z.users.mu.Unlock()
}

// addClient registers a confidential web client (client_secret_basic)
// whose only redirect URI is our callback. Called before any login.
func (z *zitadelOP) addClient(id, secret, redirect string) {
	z.clients[id] = storage.WebClient(id, secret, redirect)
}

func (z *zitadelOP) URL() string { return z.srv.URL }

func (z *zitadelOP) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: z.srv.Certificate().Raw})
}

var zitadelAuthReqID = regexp.MustCompile(`name="id" value="([^"]*)"`)

// login drives a browser through the real flow: the node's begin (which
// redirects to the OP, which shows its login form), then the form
// submitted with the user's password, the OP's redirects back to the
// node's callback and whatever the node answers. The legs of both
// requests stay in b.legs.
func (z *zitadelOP) login(t *testing.T, b *browser, begin, login, password string) (int, string) {
	t.Helper()
	st, body := b.get(begin)
	m := zitadelAuthReqID.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil || !strings.Contains(body, `name="password"`) {
		t.Fatalf("begin %s: want the OP's login form, got %d %s legs %+v", begin, st, body, b.legs)
	}
	return b.postForm(z.URL()+"/login/username", url.Values{"id": {html.UnescapeString(m[1])}, "username": {login}, "password": {password}})
}

// postForm posts a form with the browser's cookies, following redirects;
// the legs are appended to those of the previous navigation.
func (b *browser) postForm(u string, form url.Values) (int, string) {
	b.t.Helper()
	resp, err := b.hc.PostForm(u, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	return b.arrive(resp)
}
