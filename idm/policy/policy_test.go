package policy_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/fsm/fsmtest"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// ca is a stand-in attestation root: resolution compares CA entries by
// value, so distinct bytes per device family are enough here.
func ca(name string) entry.AttestationCA {
	return entry.AttestationCA{CA: []byte("DER of " + name), AAGUIDs: map[string]string{"aaguid-" + name: name}}
}

func caList(names ...string) *entry.AttestationCAList {
	l := &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{}}
	for _, n := range names {
		l.CAs[n] = ca(n)
	}
	return l
}

func keys(l *entry.AttestationCAList) []string {
	var ks []string
	for k := range l.CAs {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// The worked example of account-policy.txt, value for value.
func TestTheWorkedExampleOfTheAccountPolicyDocumentResolvesAsWritten(t *testing.T) {
	first := &entry.Policy{Enabled: true, AuthExpiry: 86400, PasswordMinimumLength: 10, PrivilegeExpiry: 600,
		WebauthnAttestationCAList: caList("yubikey 5ci", "yubikey 5fips")}
	second := &entry.Policy{Enabled: true, AuthExpiry: 3600, PasswordMinimumLength: 15, PrivilegeExpiry: 3600,
		WebauthnAttestationCAList: caList("yubikey 5fips", "feitian epass")}
	r := policy.Resolve([]*entry.Policy{first, second})
	if r.AuthExpiry != 3600*time.Second {
		t.Errorf("auth-expiry %v, want 3600s", r.AuthExpiry)
	}
	if r.PasswordMinimumLength != 15 {
		t.Errorf("password-minimum-length %d, want 15", r.PasswordMinimumLength)
	}
	if r.PrivilegeExpiry != 600*time.Second {
		t.Errorf("privilege-expiry %v, want 600s", r.PrivilegeExpiry)
	}
	if got := keys(r.AttestationCAs); !slices.Equal(got, []string{"yubikey 5fips"}) {
		t.Errorf("webauthn-attestation-ca-list %v, want [yubikey 5fips]", got)
	}
	// Resolution must not alias the inputs: enrolment code may hold on to it.
	if len(first.WebauthnAttestationCAList.CAs) != 2 {
		t.Error("resolution changed an input policy")
	}
}

func TestTheStrictestCredentialTypeWinsAndDisabledPoliciesDoNotCount(t *testing.T) {
	r := policy.Resolve([]*entry.Policy{
		{Enabled: true, CredentialTypeMinimum: entry.CredMFA},
		{Enabled: true, CredentialTypeMinimum: entry.CredAny, PasswordMinimumLength: 12},
		{Enabled: false, CredentialTypeMinimum: entry.CredAttestedPasskey, AuthExpiry: 60, PasswordMinimumLength: 40},
		nil,
	})
	if r.CredentialTypeMinimum != entry.CredMFA {
		t.Errorf("credential-type-minimum %q, want mfa", r.CredentialTypeMinimum)
	}
	if r.PasswordMinimumLength != 12 || r.AuthExpiry != entry.DefaultAuthExpiry*time.Second {
		t.Errorf("a disabled policy took part: %+v", r)
	}
	if r.AttestationCAs != nil || r.PrivilegeExpiry != entry.DefaultPrivilegeExpiry*time.Second {
		t.Errorf("unset settings must take the defaults: %+v", r)
	}
}

func TestCAEntriesMustBeEqualToSurviveTheIntersection(t *testing.T) {
	other := caList("yubikey 5fips")
	// Same key, but a different device list under it: not the same entry.
	other.CAs["yubikey 5fips"] = entry.AttestationCA{CA: ca("yubikey 5fips").CA, AAGUIDs: map[string]string{"x": "y"}}
	r := policy.Resolve([]*entry.Policy{
		{Enabled: true, WebauthnAttestationCAList: caList("yubikey 5fips")},
		{Enabled: true, WebauthnAttestationCAList: other},
	})
	if r.AttestationCAs == nil || len(r.AttestationCAs.CAs) != 0 {
		t.Fatalf("want an empty (allow nothing) list, got %+v", r.AttestationCAs)
	}
}

func TestThePrivilegeExpiryIsCappedEvenIfAStoredPolicyIsNot(t *testing.T) {
	r := policy.Resolve([]*entry.Policy{{Enabled: true, PrivilegeExpiry: 86400}})
	if r.PrivilegeExpiry != entry.MaxPrivilegeExpiry*time.Second {
		t.Fatalf("privilege-expiry %v, want the 3600s cap", r.PrivilegeExpiry)
	}
}

// A person gets idm_all_persons' default policy and the stricter settings
// of a nested group it belongs to.
func TestAPersonResolvesTheDefaultPolicyAndThatOfItsNestedGroups(t *testing.T) {
	f, err := fsm.Open(filepath.Join(t.TempDir(), "state.db"), fsm.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	sealer, err := seal.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc := &idm.Service{State: f, Prop: &fsmtest.Proposer{FSM: f}, Hasher: password.NewHasher(1, 0),
		Log: slog.New(slog.DiscardHandler), Now: time.Now}
	ctx := context.Background()
	if err := svc.InitSystem(ctx, "example.com", sealer); err != nil {
		t.Fatal(err)
	}
	admin := idm.Actor{UUID: entry.UUIDAdmin, Name: "admin"}
	str := func(s string) *string { return &s }
	alice, _, err := svc.Create(ctx, admin, entry.Person, idm.Input{Name: str("alice"), DisplayName: str("Alice")})
	if err != nil {
		t.Fatal(err)
	}
	if r := policy.ForAccount(f, alice.UUID); !sameValues(r, policy.Default()) || !slices.Contains(r.Groups, entry.UUIDIDMAllPersons) {
		t.Fatalf("a new person should resolve the default policy of idm_all_persons, got %+v", r)
	}
	inner, _, err := svc.Create(ctx, admin, entry.Group, idm.Input{Name: str("inner"), Members: &[]string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Create(ctx, admin, entry.Group, idm.Input{Name: str("outer"), Members: &[]string{"inner"}}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.SetGroupPolicy(ctx, admin, "outer", func(p *entry.Policy) error {
		*p = entry.Policy{Enabled: true, AuthExpiry: 900, CredentialTypeMinimum: entry.CredPasskey, PasswordMinimumLength: 14}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := policy.ForAccount(f, alice.UUID)
	if r.AuthExpiry != 900*time.Second || r.CredentialTypeMinimum != entry.CredPasskey || r.PasswordMinimumLength != 14 ||
		r.PrivilegeExpiry != entry.DefaultPrivilegeExpiry*time.Second {
		t.Fatalf("resolved %+v", r)
	}
	if len(r.Groups) != 2 || slices.Contains(r.Groups, inner.UUID) {
		t.Fatalf("groups with an enabled policy: %v (inner has none)", r.Groups)
	}
}

func sameValues(a, b policy.Resolved) bool {
	return a.AuthExpiry == b.AuthExpiry && a.CredentialTypeMinimum == b.CredentialTypeMinimum &&
		a.PasswordMinimumLength == b.PasswordMinimumLength && a.PrivilegeExpiry == b.PrivilegeExpiry &&
		(a.AttestationCAs == nil) == (b.AttestationCAs == nil)
}
