package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

func TestChallengesAreNamesOrOneKeyObjects(t *testing.T) {
	st := State{Continue: []Challenge{{Factor: "totp"}, {Factor: "passkey", Options: json.RawMessage(`{"publicKey": {"challenge":"abc"}}`)}}}
	b, err := json.Marshal(Response{SessionID: "n1.x", State: st})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sessionid":"n1.x","state":{"continue":["totp",{"passkey":{"publicKey":{"challenge":"abc"}}}]}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back Response
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(back); !bytes.Equal(again, b) {
		t.Fatalf("round trip: %s", again)
	}
	if err := json.Unmarshal([]byte(`{"state":{"continue":[{"a":1,"b":2}]}}`), &back); err == nil {
		t.Fatal("a two-key challenge was accepted")
	}
}

func TestATOTPCodeIsANumberOrAStringOfDigits(t *testing.T) {
	for in, want := range map[string]string{`{"totp":123456}`: "123456", `{"totp":"012345"}`: "012345", `{"totp":12345}`: "012345"} {
		var c Cred
		if err := json.Unmarshal([]byte(in), &c); err != nil || c.TOTP.padded(6) != want {
			t.Fatalf("%s: %v %v", in, c.TOTP, err)
		}
	}
	for _, in := range []string{`{"totp":-1}`, `{"totp":1e6}`, `{"totp":"12a456"}`, `{"totp":""}`, `{"totp":123456789}`, `{"totp":true}`} {
		var c Cred
		if err := json.Unmarshal([]byte(in), &c); err == nil {
			t.Fatalf("%s was accepted", in)
		}
	}
}

// peers is an authguard.Peers over httptest TLS servers.
type peers struct {
	addrs  []string
	client *http.Client
}

func (p *peers) PeerRPCAddrs() []string  { return p.addrs }
func (p *peers) RPCClient() *http.Client { return p.client }

func TestATOTPCodeUsedOnOneNodeIsRefusedOnAnother(t *testing.T) {
	w := newWorld(t)
	bob := w.account(entry.Person, "bob", func(a *entry.Entry, c *entry.Credentials) {
		c.PasswordHash, c.TOTP = w.phc, []entry.TOTP{w.totpCred(a)}
	})
	pa, pb := &peers{}, &peers{}
	ga := authguard.New(authguard.Options{Peers: pa, Now: w.clock.now, ClaimTimeout: 5 * time.Second})
	gb := authguard.New(authguard.Options{Peers: pb, Now: w.clock.now, ClaimTimeout: 5 * time.Second})
	sa, sb := httptest.NewTLSServer(ga.Handler()), httptest.NewTLSServer(gb.Handler())
	defer func() { ga.Close(); gb.Close(); sa.Close(); sb.Close() }()
	pa.addrs, pa.client = []string{strings.TrimPrefix(sb.URL, "https://")}, sa.Client()
	pb.addrs, pb.client = []string{strings.TrimPrefix(sa.URL, "https://")}, sb.Client()
	a, b := w.engine(ga), w.engine(gb)
	b.NodeID = "n2"
	w.claims(w.login(a, bob, entry.MechPasswordMFA, false))
	if st := w.login(b, bob, entry.MechPasswordMFA, false); st.Denied == nil || *st.Denied != DeniedReplay {
		t.Fatalf("a code used on n1, replayed on n2: %s", mustJSON(st))
	}
}

// FuzzStepDecode feeds arbitrary bytes through the step decoder (strict
// JSON, as the API decodes it) into a real engine, as the first step and
// as the answer of a login waiting for a password: the engine never panics
// and fails only with ErrBadStep.
func FuzzStepDecode(f *testing.F) {
	for _, s := range []string{
		`{"step":{"init":"alice"}}`, `{"step":{"init":""}}`, `{"step":{"begin":"password"}}`,
		`{"step":{"cred":{"password":"x"}}}`, `{"step":{"cred":{"totp":123456}}}`,
		`{"step":{"cred":{"passkey":{"id":"AA","rawId":"AA","type":"public-key","response":{}}}}}`,
		`{"step":{"cred":{"securitykey":{}}},"issue":"cookie"}`, `{"step":{}}`,
	} {
		f.Add([]byte(s))
	}
	w := newWorld(f)
	w.account(entry.Person, "alice", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if dec.Decode(&req) != nil {
			return
		}
		check := func(r Response, err error) {
			if err != nil && !errors.Is(err, ErrBadStep) {
				t.Fatalf("%s: %v", data, err)
			}
			if err == nil {
				defer w.e.drop(r.SessionID)
				if _, err := json.Marshal(r); err != nil {
					t.Fatalf("%s: the answer does not encode: %v", data, err)
				}
			}
		}
		check(w.e.Step(ctx, "", req, "fuzz"))
		r, err := w.e.Step(ctx, "", initReq("alice"), "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.e.Step(ctx, r.SessionID, begin(entry.MechPassword), "fuzz"); err != nil {
			t.Fatal(err)
		}
		if req.Step.Cred != nil && req.Step.Cred.Password != nil && req.Step.Init == nil && req.Step.Begin == nil {
			// Checking a password costs an argon2id hash: keep the fuzzer
			// on the decoder, not on the hasher.
			return
		}
		check(w.e.Step(ctx, r.SessionID, req, "fuzz"))
		w.e.drop(r.SessionID)
	})
}
