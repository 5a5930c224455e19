package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// must serves one request and insists on its status.
func (a *testAPI) must(t testing.TB, method, path, tok, body string, want int) *httptest.ResponseRecorder {
	t.Helper()
	w := a.do(method, path, tok, body, nil)
	if w.Code != want {
		t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, w.Code, w.Body, want)
	}
	return w
}

func TestGroupAccountPolicyIsEnabledThenSetOneValueAtATime(t *testing.T) {
	a := newTestAPI(t)
	admin := a.token(t, entry.UUIDAdmin, "admin")
	policyAdmin := a.token(t, entry.UUIDIDMAdmin, "idm_admin") // idm_admin is in idm_account_policy_admins
	a.must(t, "POST", "/v1/person", admin, `{"name":"alice","displayname":"Alice"}`, http.StatusCreated)
	a.must(t, "POST", "/v1/group", admin, `{"name":"ops","members":["alice"]}`, http.StatusCreated)
	const path = "/v1/group/ops/account_policy"

	// A value before enable is refused with the way forward.
	w := a.must(t, "POST", path, policyAdmin, `{"auth_expiry":3600}`, http.StatusBadRequest)
	if !strings.Contains(w.Body.String(), "enable it first") {
		t.Fatalf("refusal should say to enable first: %s", w.Body)
	}
	// A read-only session cannot change policy.
	readOnly := a.sessionToken(t, entry.UUIDIDMAdmin, "idm_admin", false)
	w = a.must(t, "POST", path, readOnly, `{"enable":true}`, http.StatusForbidden)
	if !strings.Contains(w.Body.String(), "reauth_required") {
		t.Fatalf("read-only write: %s", w.Body)
	}
	a.must(t, "POST", path, policyAdmin, `{"enable":true}`, http.StatusOK)
	a.must(t, "POST", path, policyAdmin, `{"enable":true,"auth_expiry":60}`, http.StatusBadRequest)
	a.must(t, "POST", path, policyAdmin, `{"credential_type_minimum":"strong"}`, http.StatusBadRequest)
	a.must(t, "POST", path, policyAdmin, `{"auth_expiry":3600}`, http.StatusOK)
	a.must(t, "POST", path, policyAdmin, `{"credential_type_minimum":"mfa"}`, http.StatusOK)
	a.must(t, "POST", path, policyAdmin, `{"password_minimum_length":15}`, http.StatusOK)
	v := decodeBody[GroupPolicyView](t, a.must(t, "POST", path, policyAdmin, `{"privilege_expiry":86400}`, http.StatusOK))
	if v.Policy.PrivilegeExpiry != 3600 || !strings.Contains(v.Notice, "3600") {
		t.Fatalf("privilege_expiry 86400 should be stored as 3600 and said so: %+v", v)
	}
	got := decodeBody[GroupPolicyView](t, a.must(t, "GET", path, a.idm, "", http.StatusOK))
	want := entry.Policy{Enabled: true, AuthExpiry: 3600, CredentialTypeMinimum: "mfa", PasswordMinimumLength: 15, PrivilegeExpiry: 3600}
	if got.Group != "ops" || got.Policy.Enabled != want.Enabled || got.Policy.AuthExpiry != want.AuthExpiry ||
		got.Policy.CredentialTypeMinimum != want.CredentialTypeMinimum || got.Policy.PasswordMinimumLength != want.PasswordMinimumLength ||
		got.Policy.PrivilegeExpiry != want.PrivilegeExpiry {
		t.Fatalf("stored policy %+v, want %+v", got.Policy, want)
	}

	// alice resolves ops' stricter values over idm_all_persons' defaults.
	r := decodeBody[ResolvedPolicyView](t, a.must(t, "GET", "/v1/account/alice/policy", a.idm, "", http.StatusOK))
	if r.AuthExpiry != 3600 || r.CredentialTypeMinimum != "mfa" || r.PasswordMinimumLength != 15 ||
		r.PrivilegeExpiry != entry.DefaultPrivilegeExpiry || len(r.Groups) != 2 {
		t.Fatalf("resolved %+v", r)
	}
	a.must(t, "GET", "/v1/account/ops/policy", a.idm, "", http.StatusNotFound)
}

func TestAPersonOutsideThePolicyAdminsCannotChangePolicy(t *testing.T) {
	a := newTestAPI(t)
	admin := a.token(t, entry.UUIDAdmin, "admin")
	w := a.must(t, "POST", "/v1/person", admin, `{"name":"bob","displayname":"Bob"}`, http.StatusCreated)
	bob := decodeBody[EntryView](t, w)
	a.must(t, "POST", "/v1/group/idm_all_persons/account_policy", a.token(t, bob.UUID, "bob"), `{"auth_expiry":60}`, http.StatusForbidden)
}

func TestAFidoMDSToolCAListIsStoredAndRemoved(t *testing.T) {
	a := newTestAPI(t)
	tok := a.token(t, entry.UUIDIDMAdmin, "idm_admin")
	der := testCA(t)
	// fido-mds-tool's shape: base64url CA, device descriptions as objects.
	body := `{"webauthn_attestation_ca_list":{"cas":{"yubico":{"ca":"` + base64.RawURLEncoding.EncodeToString(der) +
		`","aaguids":{"CB69481E-8FF7-4039-93EC-0A2729A154A8":{"en":"YubiKey 5 Series","localised":{}}}}}}}`
	v := decodeBody[GroupPolicyView](t, a.must(t, "POST", "/v1/group/idm_all_persons/account_policy", tok, body, http.StatusOK))
	ca, ok := v.Policy.WebauthnAttestationCAList.CAs["yubico"]
	if !ok || string(ca.CA) != string(der) || ca.AAGUIDs["cb69481e-8ff7-4039-93ec-0a2729a154a8"] != "YubiKey 5 Series" {
		t.Fatalf("stored list %+v", v.Policy.WebauthnAttestationCAList)
	}
	a.must(t, "POST", "/v1/group/idm_all_persons/account_policy", tok,
		`{"webauthn_attestation_ca_list":{"cas":{"junk":{"ca":"bm90IGEgY2VydA"}}}}`, http.StatusBadRequest)
	v = decodeBody[GroupPolicyView](t, a.must(t, "POST", "/v1/group/idm_all_persons/account_policy", tok,
		`{"webauthn_attestation_ca_list":null}`, http.StatusOK))
	if v.Policy.WebauthnAttestationCAList != nil {
		t.Fatalf("list not removed: %+v", v.Policy)
	}
}

func TestTheBadlistIsAppendedNormalisedAndShownToAdmins(t *testing.T) {
	a := newTestAPI(t)
	admin := a.token(t, entry.UUIDAdmin, "admin")
	w := a.must(t, "POST", "/v1/system/pw_badlist", admin,
		`{"passwords":["Gravel-Anvil-Octopus-42"," gravel-anvil-octopus-42 ","xylophone-barracuda-tundra-77",""]}`, http.StatusOK)
	if got := decodeBody[BadlistAdded](t, w); got.Added != 2 {
		t.Fatalf("added %d, want 2", got.Added)
	}
	w = a.must(t, "POST", "/v1/system/pw_badlist", admin, `{"passwords":["XYLOPHONE-barracuda-tundra-77"]}`, http.StatusOK)
	if got := decodeBody[BadlistAdded](t, w); got.Added != 0 {
		t.Fatalf("append-only list re-added a password: %d", got.Added)
	}
	v := decodeBody[BadlistView](t, a.must(t, "GET", "/v1/system/pw_badlist", a.admin, "", http.StatusOK))
	if v.Count != 2 || strings.Join(v.Passwords, ",") != "gravel-anvil-octopus-42,xylophone-barracuda-tundra-77" {
		t.Fatalf("badlist %+v", v)
	}
	// idm_admin manages account policy but not the badlist's contents.
	a.must(t, "POST", "/v1/system/pw_badlist", a.token(t, entry.UUIDIDMAdmin, "idm_admin"), `{"passwords":["abc-def-ghi-jkl"]}`, http.StatusForbidden)
	a.must(t, "GET", "/v1/system/pw_badlist", a.idm, "", http.StatusOK)
}

// testCA makes a self-signed certificate to stand for an attestation root.
func testCA(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test attestation root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
