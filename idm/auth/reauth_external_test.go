package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
	"github.com/gatehouse-idm/gatehouse/idm/token"
)

// externalSession logs acct in through mech and returns the claims.
func (w *world) externalSession(acct *entry.Entry, mech string) *token.Claims {
	w.t.Helper()
	tok, _, err := w.e.IssueExternal(context.Background(), acct, mech, IssueCookie)
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := w.e.VerifySession(tok)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func TestReauthExternalOpensTheWriteWindowOfTheSameSession(t *testing.T) {
	w := newWorld(t)
	var seen []string
	w.e.Observe = func(account, mech, result, _ string) { seen = append(seen, account+"/"+mech+"/"+result) }
	s := w.account(entry.Person, "sam", func(*entry.Entry, *entry.Credentials) {})
	first := w.externalSession(s, entry.MechSSO)
	if first.ReadWrite(w.clock.now()) {
		t.Fatal("a new SSO session can write")
	}
	// The stepped reauth says to go through the provider instead.
	_, err := w.e.BeginReauth(first, IssueCookie)
	var rx *ReauthExternalError
	if !errors.As(err, &rx) || rx.Mechanism != entry.MechSSO || !errors.Is(err, ErrReauthExternal) {
		t.Fatalf("BeginReauth of an SSO session: %v", err)
	}
	w.clock.add(time.Minute)
	tok, exp, err := w.e.ReauthExternal(context.Background(), first, s, entry.MechSSOMFA, IssueCookie)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.signer.Verify(tok, w.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	pol := policy.ForAccount(w.f, s.UUID)
	want := w.clock.now().Add(orDefault(pol.PrivilegeExpiry, entry.DefaultPrivilegeExpiry))
	if want.After(first.Expiry.Time()) {
		want = first.Expiry.Time()
	}
	if c.SessionID != first.SessionID || !c.Expiry.Time().Equal(first.Expiry.Time()) || !exp.Equal(first.Expiry.Time()) ||
		c.MinIndex != first.MinIndex || c.Mechanism != entry.MechSSO || c.RWUntil != want.Unix() || !c.ReadWrite(w.clock.now()) {
		t.Fatalf("reauthenticated claims %+v, first %+v", c, first)
	}
	if len(w.sessions) != 1 {
		t.Fatalf("a reauthentication recorded a new session: %+v", w.sessions)
	}
	if len(seen) != 2 || seen[1] != "sam/sso_mfa/"+ResultReauthSuccess {
		t.Fatalf("observed %v", seen)
	}
}

func TestReauthExternalWindowEndsWithTheSession(t *testing.T) {
	w := newWorld(t)
	k := w.account(entry.Person, "kim", func(*entry.Entry, *entry.Credentials) {})
	first := w.externalSession(k, entry.MechKerberos)
	// Just before the session ends: the window is cut at its expiry.
	w.clock.add(first.Expiry.Time().Sub(w.clock.now()) - time.Second)
	tok, _, err := w.e.ReauthExternal(context.Background(), first, k, entry.MechKerberos, "")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := w.signer.Verify(tok, w.clock.now())
	if c.RWUntil != first.Expiry.Time().Unix() {
		t.Fatalf("window %d, session ends %d", c.RWUntil, first.Expiry.Time().Unix())
	}
	w.clock.add(2 * time.Second)
	if _, _, err := w.e.ReauthExternal(context.Background(), first, k, entry.MechKerberos, ""); !errors.Is(err, ErrReauthSession) {
		t.Fatalf("expired session: %v", err)
	}
}

func TestReauthExternalRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var seen []string
	w.e.Observe = func(account, mech, result, _ string) { seen = append(seen, result) }
	a := w.account(entry.Person, "ann", func(*entry.Entry, *entry.Credentials) {})
	b := w.account(entry.Person, "ben", func(*entry.Entry, *entry.Credentials) {})
	sso := w.externalSession(a, entry.MechSSO)
	mfa := w.externalSession(a, entry.MechSSOMFA)
	krb := w.externalSession(a, entry.MechKerberos)
	cases := []struct {
		what   string
		claims *token.Claims
		acct   *entry.Entry
		mech   string
		issue  string
		want   error
	}{
		{"another account's proof", sso, b, entry.MechSSO, "", ErrReauthAccount},
		{"weaker than the login (sso for sso_mfa)", mfa, a, entry.MechSSO, "", ErrReauthWeaker},
		{"weaker than the login (sso for kerberos)", krb, a, entry.MechSSO, "", ErrReauthWeaker},
		{"not an external mechanism", sso, a, entry.MechPassword, "", ErrBadStep},
		{"unknown issue", sso, a, entry.MechSSO, "pigeon", ErrBadStep},
		{"no claims", nil, a, entry.MechSSO, "", ErrBadStep},
	}
	for _, tc := range cases {
		if _, _, err := w.e.ReauthExternal(ctx, tc.claims, tc.acct, tc.mech, tc.issue); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, err, tc.want)
		}
	}
	// A stronger proof than the login is fine (kerberos for sso).
	if _, _, err := w.e.ReauthExternal(ctx, sso, a, entry.MechKerberos, ""); err != nil {
		t.Fatalf("kerberos for an sso session: %v", err)
	}
	// Revoked.
	if err := w.svc.RevokeSession(ctx, admin, krb.SessionID, a.UUID, krb.Expiry.Time()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.e.ReauthExternal(ctx, krb, a, entry.MechKerberos, ""); !errors.Is(err, ErrReauthSession) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := w.e.VerifySession("not-a-token"); !errors.Is(err, ErrReauthSession) {
		t.Fatalf("VerifySession of junk: %v", err)
	}
	// Policy minimum above what the proof gives.
	if _, err := w.svc.SetGroupPolicy(ctx, admin, "idm_all_persons", func(p *entry.Policy) error {
		p.CredentialTypeMinimum = entry.CredMFA
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.e.ReauthExternal(ctx, sso, a, entry.MechSSO, ""); !errors.Is(err, ErrBelowPolicy) {
		t.Fatalf("below policy: %v", err)
	}
	if _, _, err := w.e.ReauthExternal(ctx, mfa, a, entry.MechSSOMFA, ""); err != nil {
		t.Fatalf("sso_mfa meets an mfa minimum: %v", err)
	}
	// Disabled: the replica's current entry counts, not the caller's.
	dis := true
	if _, _, err := w.svc.Update(ctx, admin, entry.Person, "ann", idm.Input{Disabled: &dis}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.e.ReauthExternal(ctx, mfa, a, entry.MechSSOMFA, ""); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	if n := len(seen); n == 0 || seen[n-1] != ResultReauthDisabled {
		t.Fatalf("observed %v", seen)
	}
}
