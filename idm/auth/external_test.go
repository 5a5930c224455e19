package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
)

func TestIssueExternalSignsASessionLikeASteppedLogin(t *testing.T) {
	w := newWorld(t)
	var seen []string
	w.e.Observe = func(account, mech, result, _ string) { seen = append(seen, account+"/"+mech+"/"+result) }
	// An account without any credential can still log in through Kerberos.
	k := w.account(entry.Person, "kim", func(*entry.Entry, *entry.Credentials) {})
	tok, exp, err := w.e.IssueExternal(context.Background(), k, entry.MechKerberos, IssueToken)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.signer.Verify(tok, w.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	pol := policy.ForAccount(w.f, k.UUID)
	want := w.clock.now().Add(orDefault(pol.AuthExpiry, entry.DefaultAuthExpiry))
	if c.Subject != k.UUID || c.Name != "kim" || c.Mechanism != entry.MechKerberos || c.ReadWrite(w.clock.now()) ||
		!c.Expiry.Time().Equal(want) || !exp.Equal(want) || Owner(c.SessionID) != "n1" {
		t.Fatalf("claims %+v, expires %v (want %v)", c, exp, want)
	}
	if len(w.sessions) != 1 || w.sessions[0].ID != c.SessionID || w.sessions[0].Mechanism != entry.MechKerberos {
		t.Fatalf("recorded %+v", w.sessions)
	}
	if len(seen) != 1 || seen[0] != "kim/kerberos/success" {
		t.Fatalf("observed %v", seen)
	}
}

func TestIssueExternalRefusesADisabledAccountAndAMechanismBelowPolicy(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	d := w.account(entry.Person, "dora", func(*entry.Entry, *entry.Credentials) {})
	dis := true
	if _, _, err := w.svc.Update(ctx, admin, entry.Person, "dora", idm.Input{Disabled: &dis}); err != nil {
		t.Fatal(err)
	}
	// d is the entry from before the disable: the current state counts.
	if _, _, err := w.e.IssueExternal(ctx, d, entry.MechKerberos, ""); !errors.Is(err, ErrDisabled) || !strings.Contains(err.Error(), "dora") {
		t.Fatalf("disabled: %v", err)
	}
	k := w.account(entry.Person, "kim", func(*entry.Entry, *entry.Credentials) {})
	if _, err := w.svc.SetGroupPolicy(ctx, admin, "idm_all_persons", func(p *entry.Policy) error {
		p.CredentialTypeMinimum = entry.CredMFA
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, _, err := w.e.IssueExternal(ctx, k, entry.MechKerberos, "")
	if !errors.Is(err, ErrBelowPolicy) || !strings.Contains(err.Error(), "mfa") {
		t.Fatalf("below policy: %v", err)
	}
	if _, _, err := w.e.IssueExternal(ctx, k, entry.MechKerberos, "carrier-pigeon"); !errors.Is(err, ErrBadStep) {
		t.Fatalf("unknown issue: %v", err)
	}
	if len(w.sessions) != 0 {
		t.Fatalf("a refused login recorded a session: %+v", w.sessions)
	}
}
