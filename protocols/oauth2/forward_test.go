package oauth2

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type fakePeers struct{ to *testNode }

func (f fakePeers) PeerRPCAddr(id string) (string, bool) {
	if id != f.to.p.NodeID {
		return "", false
	}
	return strings.TrimPrefix(f.to.srv.URL, "https://"), true
}
func (f fakePeers) RPCClient() *http.Client { return f.to.srv.Client() }

// A code issued by n1 and presented to n2 is exchanged on n1 (forwarded
// whole), once: the replay through n2 is refused too.
func TestCodeExchangeIsForwardedToTheIssuingNode(t *testing.T) {
	n1, n2 := newTestNodeID(t, "n1"), newTestNodeID(t, "n2")
	n2.p.Peers = fakePeers{to: n1}
	verifier := strings.Repeat("v", 50)
	q := url.Values{"client_id": {"app"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}
	code := n1.authorize(t, n1.srv.URL+PathAuthorize+"?"+q.Encode())
	if !strings.HasPrefix(code, "n1.") {
		t.Fatalf("code %q does not name its node", code)
	}
	exchange := func() *http.Response {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
		req, _ := http.NewRequest(http.MethodPost, n2.srv.URL+PathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("app", secret)
		resp, err := n2.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := exchange(); resp.StatusCode != http.StatusOK {
		t.Fatalf("forwarded exchange: %d", resp.StatusCode)
	}
	if resp := exchange(); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("replay through another node: %d", resp.StatusCode)
	}
}

func TestSealedAuthRequestRoundTrip(t *testing.T) {
	n := newTestNode(t)
	a := authRequest{ClientID: "app", RedirectURI: redirect, Scopes: []string{"openid"}, State: "s", Nonce: "n",
		Challenge: "c", Expires: time.Now().Add(time.Minute).UnixMilli()}
	id, err := n.p.sealAuthRequest(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.p.openAuthRequest(id)
	if err != nil || got.ClientID != "app" || got.Challenge != "c" || got.Nonce != "n" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := n.p.openAuthRequest(id[:len(id)-2] + "AA"); err == nil {
		t.Fatal("a tampered auth request opened")
	}
	a.Expires = time.Now().Add(-time.Second).UnixMilli()
	id, _ = n.p.sealAuthRequest(a)
	if _, err := n.p.openAuthRequest(id); err == nil {
		t.Fatal("an expired auth request opened")
	}
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
