package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-idm/gatehouse/idm/credupdate"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
)

const (
	cuOrigin = "https://idm.example.com"
	cuStrong = "violet pencil orbit marmalade 42"
)

// withCredUpdate gives a test API a credential-update manager and a person
// alice; it returns alice's read-write and read-only session tokens.
func withCredUpdate(t *testing.T, a *testAPI) (rw, ro string) {
	t.Helper()
	sealer := a.w.Sealer
	rp, err := fido.New("idm.example.com", "Gatehouse", []string{cuOrigin})
	if err != nil {
		t.Fatal(err)
	}
	a.srv.CredUpdateDeps = CredUpdateDeps{CredUpdate: credupdate.New(a.srv.Svc, sealer, rp, a.srv.NodeID), Origin: cuOrigin}
	w := a.do("POST", "/v1/person", a.idm, `{"name":"alice","displayname":"Alice Liddell"}`, nil)
	if w.Code != http.StatusCreated {
		t.Fatalf("create alice: %d %s", w.Code, w.Body)
	}
	e := decodeBody[EntryView](t, w)
	return a.sessionToken(t, e.UUID, "alice", true), a.sessionToken(t, e.UUID, "alice", false)
}

func mustCode(t *testing.T, w *httptest.ResponseRecorder, want int, what string) {
	t.Helper()
	if w.Code != want {
		t.Fatalf("%s: want %d, got %d %s", what, want, w.Code, w.Body)
	}
}

func TestCredentialUpdateForOneselfOverTheAPI(t *testing.T) {
	a := newTestAPI(t)
	rw, ro := withCredUpdate(t, a)
	const base = "/v1/credential/update"

	// Opening needs a read-write session.
	w := a.do("POST", base, ro, "", nil)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "reauth_required") {
		t.Fatalf("open with a read-only session: %d %s", w.Code, w.Body)
	}
	w = a.do("POST", base, rw, "", nil)
	mustCode(t, w, 200, "open")
	open := decodeBody[openBody](t, w)
	if !strings.HasPrefix(open.ID, "n1.") || open.Status.Name != "alice" || open.Status.CanCommit {
		t.Fatalf("open: %+v", open)
	}
	path := base + "/" + open.ID

	// Only alice's login reaches it: not another account, not no one.
	for _, tok := range []string{"", a.idm} {
		mustCode(t, a.do("GET", path, tok, "", nil), 404, "status by someone else")
	}
	mustCode(t, a.do("GET", path, ro, "", nil), 200, "status by alice's own session")

	// A weak password: 400 with zxcvbn's feedback; the check says the same.
	w = a.do("POST", path+"/password", rw, `{"password":"password123"}`, nil)
	mustCode(t, w, 400, "weak password")
	q := decodeBody[qualityBody](t, w)
	if q.Code != "password_quality" || q.Error == "" || q.Feedback.Warning+strings.Join(q.Feedback.Suggestions, "") == "" {
		t.Fatalf("weak password answer: %s", w.Body)
	}
	w = a.do("POST", path+"/password/check", rw, `{"password":"password123"}`, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ok":false`) || !strings.Contains(w.Body.String(), `"feedback"`) {
		t.Fatalf("check: %d %s", w.Code, w.Body)
	}
	w = a.do("POST", path+"/password", rw, `{"password":"`+cuStrong+`"}`, nil)
	mustCode(t, w, 200, "strong password")
	if st := decodeBody[credupdate.Status](t, w); !st.Password || !st.CanCommit {
		t.Fatalf("after password: %+v", st)
	}

	// TOTP: generate, a wrong code, then the right one (sent as a number).
	w = a.do("POST", path+"/totp/generate", rw, `{"label":"phone","algorithm":"SHA256"}`, nil)
	mustCode(t, w, 200, "totp generate")
	en := decodeBody[struct {
		URI    string `json:"uri"`
		Secret string `json:"secret"`
		QRPNG  string `json:"qr_png"`
	}](t, w)
	png, err := base64.StdEncoding.DecodeString(en.QRPNG)
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") || !strings.HasPrefix(en.URI, "otpauth://") {
		t.Fatalf("enrolment: %+v %v", en, err)
	}
	code, err := ptotp.GenerateCodeCustom(en.Secret, time.Now(), ptotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA256})
	if err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	mustCode(t, a.do("POST", path+"/totp/verify", rw, `{"code":"`+wrong+`"}`, nil), 400, "wrong totp code")
	w = a.do("POST", path+"/totp/verify", rw, `{"code":`+strings.TrimLeft(code, "0")+`}`, nil)
	if code == "000000" { // a number cannot carry only zeros
		w = a.do("POST", path+"/totp/verify", rw, `{"code":"000000"}`, nil)
	}
	mustCode(t, w, 200, "totp verify")
	st := decodeBody[credupdate.Status](t, w)
	if len(st.TOTP) != 1 || strings.Join(st.Mechanisms, ",") != entry.MechPasswordMFA {
		t.Fatalf("after totp: %+v", st)
	}

	// Commit: one write, its index in the body and the header; the same
	// login, once its privilege window has closed, cannot commit.
	w = a.do("POST", path+"/commit", ro, "", nil)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "reauth_required") {
		t.Fatalf("commit with a read-only session: %d %s", w.Code, w.Body)
	}
	w = a.do("POST", path+"/commit", rw, "", nil)
	mustCode(t, w, 200, "commit")
	if w.Header().Get(HeaderIndex) == "" || !strings.Contains(w.Body.String(), `"index"`) {
		t.Fatalf("commit answer: %v %s", w.Header(), w.Body)
	}
	e, _ := a.srv.State.Entry("alice")
	if ok, _ := a.srv.Svc.Hasher.Verify(context.Background(), e.PasswordHash, cuStrong); !ok || len(e.TOTP) != 1 {
		t.Fatalf("stored credentials: %+v", e.Credentials)
	}
	mustCode(t, a.do("GET", path, rw, "", nil), 404, "status after commit")

	// Cancel forgets a session.
	w = a.do("POST", base, rw, "", nil)
	mustCode(t, w, 200, "open again")
	path = base + "/" + decodeBody[openBody](t, w).ID
	mustCode(t, a.do("DELETE", path, rw, "", nil), 204, "cancel")
	mustCode(t, a.do("GET", path, rw, "", nil), 404, "status after cancel")
}

func TestAReadOnlySessionCannotWriteThroughAnOpenUpdate(t *testing.T) {
	a := newTestAPI(t)
	rw, ro := withCredUpdate(t, a) // the same login session, before and after its privilege expires
	w := a.do("POST", "/v1/credential/update", rw, "", nil)
	mustCode(t, w, 200, "open")
	path := "/v1/credential/update/" + decodeBody[openBody](t, w).ID
	mustCode(t, a.do("POST", path+"/password", rw, `{"password":"`+cuStrong+`"}`, nil), 200, "password while read-write")

	for _, c := range []struct{ method, path, body string }{
		{"POST", "/password", `{"password":"` + cuStrong + `!"}`},
		{"DELETE", "/password", ""},
		{"POST", "/totp/generate", `{"label":"phone"}`},
		{"POST", "/totp/verify", `{"code":"123456"}`},
		{"DELETE", "/totp/x", ""},
		{"POST", "/webauthn/begin", `{"kind":"passkey"}`},
		{"POST", "/webauthn/finish", `{"credential":{}}`},
		{"DELETE", "/webauthn/x", ""},
		{"POST", "/commit", ""},
	} {
		w := a.do(c.method, path+c.path, ro, c.body, nil)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "reauth_required") {
			t.Errorf("%s %s with a read-only session: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	// Reads need only the same login.
	mustCode(t, a.do("GET", path, ro, "", nil), 200, "status with a read-only session")
	mustCode(t, a.do("POST", path+"/password/check", ro, `{"password":"`+cuStrong+`"}`, nil), 200, "check with a read-only session")
	if e, _ := a.srv.State.Entry("alice"); e.PasswordHash != "" {
		t.Fatal("a read-only session changed the stored credentials")
	}
	mustCode(t, a.do("POST", path+"/commit", rw, "", nil), 200, "commit after reauth")
}

func TestResetTokenOverTheAPIWorksOnce(t *testing.T) {
	a := newTestAPI(t)
	withCredUpdate(t, a)
	w := a.do("POST", "/v1/person/alice/credential/reset_token", a.idm, `{"ttl":600}`, nil)
	mustCode(t, w, 200, "reset token")
	rt := decodeBody[struct {
		Token   string    `json:"token"`
		URL     string    `json:"url"`
		Expires time.Time `json:"expires"`
	}](t, w)
	if rt.Token == "" || rt.URL != cuOrigin+"/ui/reset#token="+rt.Token || time.Until(rt.Expires) > 11*time.Minute {
		t.Fatalf("reset token: %+v", rt)
	}
	mustCode(t, a.do("POST", "/v1/person/alice/credential/reset_token", "", `{}`, nil), 401, "reset token without a session")
	mustCode(t, a.do("POST", "/v1/person/alice/credential/reset_token", a.idm, `{"ttl":999999}`, nil), 400, "reset token too long")

	open := func() *httptest.ResponseRecorder {
		return a.do("POST", "/v1/credential/update/reset", "", `{"token":"`+rt.Token+`"}`, nil)
	}
	w = open()
	mustCode(t, w, 200, "open with the token")
	path := "/v1/credential/update/" + decodeBody[openBody](t, w).ID
	mustCode(t, a.do("POST", path+"/password", "", `{"password":"`+cuStrong+`"}`, nil), 200, "set password")
	mustCode(t, a.do("POST", path+"/commit", "", "", nil), 200, "commit")
	mustCode(t, open(), 403, "a used token")
	mustCode(t, a.do("POST", "/v1/credential/update/reset", "", `{"token":"made-up"}`, nil), 403, "a made-up token")
}

func TestSoftlockResetAndGeneratedServiceAccountPassword(t *testing.T) {
	a := newTestAPI(t)
	withCredUpdate(t, a)
	mustCode(t, a.do("POST", "/v1/person/alice/credential/softlock_reset", a.idm, "", nil), 204, "softlock reset")
	if e, _ := a.srv.State.Entry("alice"); e.SoftlockReset == 0 {
		t.Fatal("soft-lock reset not recorded")
	}
	mustCode(t, a.do("POST", "/v1/service_account", a.idm, `{"name":"backup"}`, nil), 201, "create service account")
	w := a.do("POST", "/v1/service_account/backup/credential/generate", a.idm, "", nil)
	mustCode(t, w, 200, "generate")
	pw := decodeBody[map[string]string](t, w)["password"]
	e, _ := a.srv.State.Entry("backup")
	if ok, _ := a.srv.Svc.Hasher.Verify(context.Background(), e.PasswordHash, pw); !ok || !e.PasswordGenerated {
		t.Fatalf("generated password: %q %+v", pw, e.Credentials)
	}
	mustCode(t, a.do("POST", "/v1/service_account/alice/credential/generate", a.idm, "", nil), 404, "generate for a person")
}

// peerOf routes forwarded requests to another in-process node over TLS.
type peerOf struct {
	node string
	ts   *httptest.Server
}

func (p peerOf) PeerRPCAddr(id string) (string, bool) {
	if id != p.node {
		return "", false
	}
	return strings.TrimPrefix(p.ts.URL, "https://"), true
}
func (p peerOf) RPCClient() *http.Client { return p.ts.Client() }

func TestACredentialUpdateContinuesThroughAnotherNode(t *testing.T) {
	n1 := newTestAPI(t)
	withCredUpdate(t, n1)
	mux := http.NewServeMux()
	mux.Handle(RPCAPI+"/", n1.srv.ForwardedHandler(n1.h))
	ts := httptest.NewTLSServer(mux)
	t.Cleanup(ts.Close)

	n2 := newTestAPI(t)
	n2.srv.NodeID = "n2"
	n2.srv.Peers = peerOf{node: "n1", ts: ts}
	withCredUpdate(t, n2)

	w := n1.do("POST", "/v1/person/alice/credential/reset_token", n1.idm, "", nil)
	mustCode(t, w, 200, "reset token")
	tok := decodeBody[map[string]string](t, w)["token"]
	w = n1.do("POST", "/v1/credential/update/reset", "", `{"token":"`+tok+`"}`, nil)
	mustCode(t, w, 200, "open on n1")
	path := "/v1/credential/update/" + decodeBody[openBody](t, w).ID

	// n2 does not hold the session: it forwards each request, body and all.
	w = n2.do("POST", path+"/password", "", `{"password":"`+cuStrong+`"}`, nil)
	mustCode(t, w, 200, "password through n2")
	w = n2.do("POST", path+"/commit", "", "", nil)
	mustCode(t, w, 200, "commit through n2")
	if e, _ := n1.srv.State.Entry("alice"); e.PasswordHash == "" {
		t.Fatal("the commit through n2 did not land on n1")
	}
}
