package fido

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
)

// The fuzz targets start from real responses (testdata/fuzz/*), made by
// fidotest for the account and ceremony states in testdata/fixture.json, so
// mutations reach the signature and attestation checks rather than dying
// in the JSON parser. `go test ./idm/fido -run TestFuzzSeeds -update`
// rewrites both.
var update = flag.Bool("update", false, "rewrite testdata/fixture.json and the fuzz seed corpus")

const fixturePath = "testdata/fixture.json"

// fixture is everything the seeds were made against. The states carry no
// expiry so stored seeds stay valid.
type fixture struct {
	Account      *entry.Entry `json:"account"`       // one passkey, one security key
	LoginPasskey []byte       `json:"login_passkey"` // BeginLogin(account, Passkey)
	LoginKey     []byte       `json:"login_securitykey"`
	Discoverable []byte       `json:"discoverable"` // BeginDiscoverableLogin
	Enrolee      *entry.Entry `json:"enrolee"`      // no credentials yet
	Registration []byte       `json:"registration"` // BeginRegistration(enrolee, Passkey, attestation)
	CA           []byte       `json:"ca"`           // root DER of the attesting authenticator
	AAGUID       string       `json:"aaguid"`
}

func (fx *fixture) cas() *entry.AttestationCAList {
	return &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{
		"test": {CA: fx.CA, AAGUIDs: map[string]string{fx.AAGUID: "fidotest"}},
	}}
}

func (fx *fixture) byHandle(h []byte) (*entry.Entry, bool) {
	if want, _ := UserHandle(fx.Account.UUID); bytes.Equal(want, h) {
		return fx.Account, true
	}
	return nil, false
}

func noExpiry(t testing.TB, state []byte) []byte {
	var s map[string]any
	if err := json.Unmarshal(state, &s); err != nil {
		t.Fatal(err)
	}
	delete(s, "expires")
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// generate makes a fresh fixture and seeds: login responses for each state,
// and registration responses with packed and none attestation.
func generate(t *testing.T, rp *RP) (*fixture, map[string]map[string][]byte) {
	ca, err := fidotest.NewTestCA()
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{Account: newAccount("fuzz"), Enrolee: newAccount("enrolee"), CA: ca.DER(), AAGUID: ca.AAGUID()}
	pk, sk := fidotest.New(testOrigin), fidotest.New(testOrigin)
	mustEnrol(t, rp, fx.Account, Passkey, pk, true)
	mustEnrol(t, rp, fx.Account, SecurityKey, sk, false)
	seeds := map[string]map[string][]byte{"FuzzFinishLogin": {}, "FuzzFinishRegistration": {}}

	ceremony := func(begin func() (json.RawMessage, []byte, error), answer func(json.RawMessage) (json.RawMessage, error)) ([]byte, []byte) {
		opts, state, err := begin()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := answer(opts)
		if err != nil {
			t.Fatal(err)
		}
		return noExpiry(t, state), resp
	}
	fx.LoginPasskey, seeds["FuzzFinishLogin"]["passkey"] = ceremony(
		func() (json.RawMessage, []byte, error) { return rp.BeginLogin(fx.Account, Passkey) },
		func(o json.RawMessage) (json.RawMessage, error) { return pk.Login(o, true) })
	fx.LoginKey, seeds["FuzzFinishLogin"]["securitykey"] = ceremony(
		func() (json.RawMessage, []byte, error) { return rp.BeginLogin(fx.Account, SecurityKey) },
		func(o json.RawMessage) (json.RawMessage, error) { return sk.Login(o, false) })
	fx.Discoverable, seeds["FuzzFinishLogin"]["discoverable"] = ceremony(rp.BeginDiscoverableLogin,
		func(o json.RawMessage) (json.RawMessage, error) { return pk.Login(o, true) })

	opts, state, err := rp.BeginRegistration(fx.Enrolee, Passkey, true)
	if err != nil {
		t.Fatal(err)
	}
	fx.Registration = noExpiry(t, state)
	for name, a := range map[string]*fidotest.Authenticator{
		"packed": fidotest.New(testOrigin, fidotest.WithAttestation(ca)),
		"none":   fidotest.New(testOrigin),
	} {
		if seeds["FuzzFinishRegistration"][name], err = a.Register(opts, true); err != nil {
			t.Fatal(err)
		}
	}
	// Raw binary seeds for the splicing half of the targets.
	seeds["FuzzFinishLogin"]["authdata"] = field(t, seeds["FuzzFinishLogin"]["passkey"], "authenticatorData")
	seeds["FuzzFinishRegistration"]["attobj"] = field(t, seeds["FuzzFinishRegistration"]["packed"], "attestationObject")
	return fx, seeds
}

// field decodes one base64url member of response.
func field(t testing.TB, resp []byte, name string) []byte {
	var m struct {
		Response map[string]any `json:"response"`
	}
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m.Response[name].(string)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// splice puts data, base64url-encoded, in place of one member of a valid
// response, so the fuzzer reaches the binary parsers (authenticator data,
// CBOR attestation object) that raw JSON mutation rarely gets through to.
func splice(t testing.TB, resp []byte, name string, data []byte) []byte {
	var m map[string]any
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatal(err)
	}
	m["response"].(map[string]any)[name] = base64.RawURLEncoding.EncodeToString(data)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeSeed(t *testing.T, target, name string, data []byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readSeed(t testing.TB, target, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimPrefix(string(b), "go test fuzz v1\n[]byte(")
	s = strings.TrimSuffix(strings.TrimSpace(s), ")")
	out, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("seed %s/%s: %v", target, name, err)
	}
	return []byte(out)
}

func loadFixture(t testing.TB) *fixture {
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	return &fx
}

// TestFuzzSeeds: the stored seeds are valid responses for the stored
// states, so the fuzzers start from inputs that pass every check.
func TestFuzzSeeds(t *testing.T) {
	rp := newRP(t)
	if *update {
		fx, seeds := generate(t, rp)
		b, err := json.MarshalIndent(fx, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(fixturePath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixturePath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		for target, m := range seeds {
			for name, data := range m {
				writeSeed(t, target, name, data)
			}
		}
	}
	fx := loadFixture(t)
	if id, err := rp.FinishLogin(fx.Account, Passkey, fx.LoginPasskey, readSeed(t, "FuzzFinishLogin", "passkey")); err != nil || id != fx.Account.Passkeys[0].ID {
		t.Fatalf("passkey seed: %q, %v", id, err)
	}
	if id, err := rp.FinishLogin(fx.Account, SecurityKey, fx.LoginKey, readSeed(t, "FuzzFinishLogin", "securitykey")); err != nil || id != fx.Account.SecurityKeys[0].ID {
		t.Fatalf("security key seed: %q, %v", id, err)
	}
	if acct, _, err := rp.FinishDiscoverableLogin(fx.Discoverable, readSeed(t, "FuzzFinishLogin", "discoverable"), fx.byHandle); err != nil || acct != fx.Account {
		t.Fatalf("discoverable seed: %v", err)
	}
	if w, err := rp.FinishRegistration(fx.Enrolee, Passkey, fx.Registration, readSeed(t, "FuzzFinishRegistration", "packed"), "l", "i", fx.cas(), time.Now()); err != nil || !w.Attested {
		t.Fatalf("packed registration seed: %+v, %v", w, err)
	}
	if _, err := rp.FinishRegistration(fx.Enrolee, Passkey, fx.Registration, readSeed(t, "FuzzFinishRegistration", "none"), "l", "i", nil, time.Now()); err != nil {
		t.Fatalf("none registration seed: %v", err)
	}
}

// reasons every refusal must carry: a failure that wraps none of them is
// an unclassified error path worth a look.
var reasons = []error{ErrState, ErrMalformed, ErrWrongOrigin, ErrWrongRP, ErrChallenge, ErrBadSignature,
	ErrUnknownCredential, ErrNoCredentials, ErrUserNotVerified, ErrUserNotPresent, ErrAlreadyRegistered,
	ErrBadAttestation, ErrNotTrusted, ErrVerification}

func classified(t *testing.T, err error) {
	if err == nil {
		return
	}
	for _, r := range reasons {
		if errors.Is(err, r) {
			return
		}
	}
	t.Fatalf("error without a reason: %v", err)
}

func FuzzFinishLogin(f *testing.F) {
	fx, rp := loadFixture(f), newRP(f)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	valid := readSeed(f, "FuzzFinishLogin", "passkey")
	f.Fuzz(func(t *testing.T, data []byte) {
		// data as the whole response, then as each binary member of a valid one.
		for _, resp := range [][]byte{data, splice(t, valid, "authenticatorData", data),
			splice(t, valid, "clientDataJSON", data), splice(t, valid, "userHandle", data)} {
			id, err := rp.FinishLogin(fx.Account, Passkey, fx.LoginPasskey, resp)
			classified(t, err)
			if err == nil && id != fx.Account.Passkeys[0].ID {
				t.Fatalf("accepted as %q", id)
			}
			_, err = rp.FinishLogin(fx.Account, SecurityKey, fx.LoginKey, resp)
			classified(t, err)
			acct, _, err := rp.FinishDiscoverableLogin(fx.Discoverable, resp, fx.byHandle)
			classified(t, err)
			if err == nil && acct != fx.Account {
				t.Fatal("discoverable login named another account")
			}
		}
	})
}

func FuzzFinishRegistration(f *testing.F) {
	fx, rp := loadFixture(f), newRP(f)
	f.Add([]byte(`{}`))
	valid := readSeed(f, "FuzzFinishRegistration", "packed")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, resp := range [][]byte{data, splice(t, valid, "attestationObject", data), splice(t, valid, "clientDataJSON", data)} {
			for _, cas := range []*entry.AttestationCAList{nil, fx.cas()} {
				w, err := rp.FinishRegistration(fx.Enrolee, Passkey, fx.Registration, resp, "l", "i", cas, time.Now())
				classified(t, err)
				if err == nil && w.Attested != (cas != nil) {
					t.Fatalf("attested = %v with cas %v", w.Attested, cas != nil)
				}
			}
		}
	})
}
