package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// Helpers shared by the authentication tests (authmech, softlock,
// totpreplay, leaderless): enrolling credentials through the
// credential-update API and driving POST /v1/auth with them.

// Denial reasons the server gives (idm/auth). Tests compare denials with
// each other rather than with these where they can.
const (
	deniedLocked = "too many failed attempts"
	deniedReplay = "already been used"
)

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %q: %w", b, err)
	}
	return nil
}

// strongPassword is random enough for zxcvbn's top score.
func strongPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "Gh-" + hex.EncodeToString(b)
}

// secret is what a test knows about one account's credentials.
type secret struct {
	Name     string
	Password string
	TOTP     string                  // base32 TOTP secret ("" if none)
	Key      *fidotest.Authenticator // passkey or security key
}

// totpCode computes the SHA256 six-digit code of a secret at t.
func totpCode(t testing.TB, secretB32 string, at time.Time) uint32 {
	t.Helper()
	s, err := ptotp.GenerateCodeCustom(secretB32, at, ptotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA256})
	if err != nil {
		t.Fatalf("totp code: %v", err)
	}
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

// answers returns an answer function for the challenges of a login.
// totpAt is the time whose code to send (zero: now).
func (s secret) answers(t testing.TB, totpAt time.Time) func(ch apiclient.Challenge) (apiclient.AuthCred, error) {
	return func(ch apiclient.Challenge) (apiclient.AuthCred, error) {
		switch ch.Kind {
		case "password":
			return apiclient.AuthCred{Password: s.Password}, nil
		case "totp":
			at := totpAt
			if at.IsZero() {
				at = time.Now()
			}
			code := totpCode(t, s.TOTP, at)
			return apiclient.AuthCred{TOTP: &code}, nil
		case "passkey":
			if s.Key == nil {
				return apiclient.AuthCred{}, fmt.Errorf("%s has no authenticator", s.Name)
			}
			r, err := s.Key.Login(ch.Options, true)
			return apiclient.AuthCred{Passkey: r}, err
		case "securitykey":
			if s.Key == nil {
				return apiclient.AuthCred{}, fmt.Errorf("%s has no authenticator", s.Name)
			}
			r, err := s.Key.Login(ch.Options, false)
			return apiclient.AuthCred{SecurityKey: r}, err
		}
		return apiclient.AuthCred{}, fmt.Errorf("unexpected challenge %q", ch.Kind)
	}
}

// corrupt flips a bit of a WebAuthn assertion's signature: a credential
// the account holds, used wrongly.
func corrupt(cred json.RawMessage) (json.RawMessage, error) {
	var m map[string]any
	if err := json.Unmarshal(cred, &m); err != nil {
		return nil, err
	}
	resp, _ := m["response"].(map[string]any)
	sig, _ := resp["signature"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("assertion without a signature: %s", cred)
	}
	raw[len(raw)/2] ^= 0x01
	resp["signature"] = base64.RawURLEncoding.EncodeToString(raw)
	return json.Marshal(m)
}

// authDriver sends steps of POST /v1/auth to one base URL (a node or the
// balancer) with its own HTTP client.
type authDriver struct {
	base string
	hc   *http.Client
}

func nodeDriver(c *Cluster, nd *Node) authDriver { return authDriver{base: nd.URL(), hc: c.HTTP()} }

// step sends one step; a non-200 answer is an error carrying the status.
func (d authDriver) step(ctx context.Context, sid string, st apiclient.AuthStep) (*apiclient.AuthResponse, error) {
	body, _ := json.Marshal(map[string]any{"step": st})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/v1/auth", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if sid != "" {
		req.Header.Set(apiclient.HeaderAuthSession, sid)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	var out apiclient.AuthResponse
	if err := jsonDecode(resp, &out); err != nil {
		return nil, fmt.Errorf("auth step %s: %w", body[:min(len(body), 80)], err)
	}
	if out.SessionID == "" {
		out.SessionID = sid
	}
	return &out, nil
}

// loginResult is how one login ended.
type loginResult struct {
	Token   string // on success
	Denied  string // on denial
	Offered []string
	// InitNode is the node that took the init step (and holds the login):
	// the prefix of the in-flight session id.
	InitNode string
}

// login runs a whole login: init name (nil: usernameless), begin mech if
// offered a choice, then answer every challenge. A mechanism that is not
// offered is an error.
func (d authDriver) login(ctx context.Context, name *string, mech string, answer func(apiclient.Challenge) (apiclient.AuthCred, error)) (loginResult, error) {
	var res loginResult
	r, err := d.step(ctx, "", apiclient.AuthStep{Init: name})
	if err != nil {
		return res, err
	}
	res.InitNode, _, _ = strings.Cut(r.SessionID, ".")
	for range 8 {
		switch {
		case r.State.Success != nil:
			res.Token = *r.State.Success
			return res, nil
		case r.State.Denied != nil:
			res.Denied = *r.State.Denied
			return res, nil
		case len(r.State.Choose) > 0:
			res.Offered = r.State.Choose
			if !slices.Contains(r.State.Choose, mech) {
				return res, fmt.Errorf("mechanism %s not offered: %v", mech, r.State.Choose)
			}
			r, err = d.step(ctx, r.SessionID, apiclient.AuthStep{Begin: mech})
		case len(r.State.Continue) > 0:
			var cred apiclient.AuthCred
			if cred, err = answer(r.State.Continue[0]); err != nil {
				return res, fmt.Errorf("answer %s: %w", r.State.Continue[0].Kind, err)
			}
			r, err = d.step(ctx, r.SessionID, apiclient.AuthStep{Cred: &cred})
		default:
			return res, fmt.Errorf("login answer without state")
		}
		if err != nil {
			return res, err
		}
	}
	return res, fmt.Errorf("login did not end after 8 steps")
}

// self checks a token by reading /v1/self through d.
func (d authDriver) self(ctx context.Context, token string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/v1/self", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := d.hc.Do(req)
	if err != nil {
		return "", err
	}
	var e apiclient.Entry
	if err := jsonDecode(resp, &e); err != nil {
		return "", err
	}
	return e.Name, nil
}

func ptr[T any](v T) *T { return &v }

// webauthnConfig is the [webauthn] table for a cluster whose clients come
// through https://localhost:port (the balancer); the nodes' own ports are
// origins too, for tests that talk to one node.
func webauthnConfig(port int, nodes []*Node) string {
	origins := []string{strconv.Quote(fmt.Sprintf("https://localhost:%d", port))}
	for _, nd := range nodes {
		origins = append(origins, strconv.Quote(nd.URL()))
	}
	return fmt.Sprintf("[webauthn]\nrp_id = \"localhost\"\nrp_name = \"Gatehouse test\"\norigins = [%s]\n", strings.Join(origins, ", "))
}

// enroller creates accounts and gives them credentials through the
// credential-update API on one node, as idm_admin.
type enroller struct {
	t      testing.TB
	c      *Cluster
	nd     *Node
	admin  *apiclient.Client
	origin string // WebAuthn origin the authenticators speak for
}

// open opens a credential-update session with a fresh reset token.
func (en *enroller) open(ctx context.Context, name string) (*apiclient.Client, string) {
	en.t.Helper()
	tok, err := en.admin.CreateResetToken(ctx, name, 0)
	if err != nil {
		en.t.Fatalf("reset token for %s: %v", name, err)
	}
	anon := en.c.Client(en.nd, "")
	cu, err := anon.OpenCredUpdateReset(ctx, tok.Token)
	if err != nil {
		en.t.Fatalf("open credential update for %s: %v", name, err)
	}
	return anon, cu.ID
}

// enrolOpts says which credentials a person gets.
type enrolOpts struct {
	Password    bool
	TOTP        bool
	SecurityKey bool
	Passkey     bool
	// Attestation makes the authenticator attest under this CA.
	Attestation *fidotest.CA
}

// person creates a person (unless it exists) and enrols credentials.
func (en *enroller) person(ctx context.Context, name string, o enrolOpts) secret {
	en.t.Helper()
	if _, err := en.admin.CreatePerson(ctx, name, name, nil); err != nil && !apiclient.IsStatus(err, http.StatusConflict) {
		en.t.Fatalf("create %s: %v", name, err)
	}
	return en.credentials(ctx, name, o)
}

// credentials replaces the credentials of an existing person.
func (en *enroller) credentials(ctx context.Context, name string, o enrolOpts) secret {
	en.t.Helper()
	cl, id := en.open(ctx, name)
	s := secret{Name: name}
	if o.Password {
		s.Password = strongPassword()
		if _, err := cl.CredUpdateSetPassword(ctx, id, s.Password); err != nil {
			en.t.Fatalf("%s: set password: %v", name, err)
		}
	}
	if o.TOTP {
		g, err := cl.CredUpdateGenerateTOTP(ctx, id, "phone", "SHA256")
		if err != nil {
			en.t.Fatalf("%s: totp generate: %v", name, err)
		}
		s.TOTP = g.Secret
		code := fmt.Sprintf("%06d", totpCode(en.t, g.Secret, time.Now()))
		if _, err := cl.CredUpdateVerifyTOTP(ctx, id, code, false); err != nil {
			en.t.Fatalf("%s: totp verify: %v", name, err)
		}
	}
	if o.SecurityKey || o.Passkey {
		var opts []fidotest.Option
		if o.Attestation != nil {
			opts = append(opts, fidotest.WithAttestation(o.Attestation))
		}
		s.Key = fidotest.New(en.origin, opts...)
		kind, uv := "passkey", true
		if o.SecurityKey {
			kind, uv = "securitykey", false
		}
		create, err := cl.CredUpdateBeginWebAuthn(ctx, id, kind, kind+" of "+name)
		if err != nil {
			en.t.Fatalf("%s: webauthn begin: %v", name, err)
		}
		cred, err := s.Key.Register(create, uv)
		if err != nil {
			en.t.Fatalf("%s: authenticator register: %v", name, err)
		}
		st, err := cl.CredUpdateFinishWebAuthn(ctx, id, cred)
		if err != nil {
			en.t.Fatalf("%s: webauthn finish: %v", name, err)
		}
		if o.Attestation != nil && (len(st.Passkeys) != 1 || !st.Passkeys[0].Attested) {
			en.t.Fatalf("%s: passkey enrolled under the policy's CA is not attested: %+v", name, st.Passkeys)
		}
	}
	if _, err := cl.CredUpdateCommit(ctx, id); err != nil {
		en.t.Fatalf("%s: commit: %v", name, err)
	}
	return s
}

// serviceAccount creates a service account with a generated password.
func (en *enroller) serviceAccount(ctx context.Context, name string) secret {
	en.t.Helper()
	if _, err := en.admin.CreateServiceAccount(ctx, name, name); err != nil {
		en.t.Fatalf("create service account %s: %v", name, err)
	}
	pw, err := en.admin.GenerateServiceAccountPassword(ctx, name)
	if err != nil {
		en.t.Fatalf("generate password for %s: %v", name, err)
	}
	return secret{Name: name, Password: pw}
}

// parallel runs f(i) for i in [0,n) on workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// setAccountPolicy enables a group's account policy and sets one setting
// (POST /v1/group/{id}/account_policy takes one field at a time, as each
// CLI command changes one).
func setAccountPolicy(t testing.TB, ctx context.Context, admin *apiclient.Client, group, field string, value any) {
	t.Helper()
	for _, body := range []map[string]any{{"enable": true}, {field: value}} {
		if _, err := admin.Do(ctx, http.MethodPost, "/v1/group/"+url.PathEscape(group)+"/account_policy", body, nil); err != nil {
			t.Fatalf("account policy of %s %v: %v", group, body, err)
		}
	}
}

// cliAs returns a CLI user logged in with token at nd (the token is put in
// a private token file, as `gatehouse login` would).
func cliAs(t *testing.T, c *Cluster, nd *Node, token string) *cliUser {
	t.Helper()
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	if err := (apiclient.TokenStore{Path: tokens}).Set(nd.URL(), token); err != nil {
		t.Fatal(err)
	}
	return &cliUser{t: t, env: []string{"GATEHOUSE_URL=" + nd.URL(), "GATEHOUSE_CA=" + c.CA, "GATEHOUSE_TOKEN_FILE=" + tokens}}
}

// strangerPasskey is a resident credential for RP localhost that no
// account holds: its user handle names nobody.
func strangerPasskey(t testing.TB, origin string) *fidotest.Authenticator {
	t.Helper()
	a := fidotest.New(origin)
	handle := make([]byte, 16)
	rand.Read(handle)
	challenge := make([]byte, 32)
	rand.Read(challenge)
	opts, _ := json.Marshal(map[string]any{"publicKey": map[string]any{
		"rp":                     map[string]any{"id": "localhost", "name": "Gatehouse test"},
		"user":                   map[string]any{"id": base64.RawURLEncoding.EncodeToString(handle), "name": "nobody", "displayName": "nobody"},
		"challenge":              base64.RawURLEncoding.EncodeToString(challenge),
		"pubKeyCredParams":       []any{map[string]any{"type": "public-key", "alg": -7}},
		"authenticatorSelection": map[string]any{"residentKey": "required", "requireResidentKey": true, "userVerification": "required"},
		"attestation":            "none",
	}})
	if _, err := a.Register(opts, true); err != nil {
		t.Fatalf("stranger passkey: %v", err)
	}
	return a
}
