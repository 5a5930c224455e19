package oauth2client

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
)

func TestPlanRotatesAnOldActiveKeyAndRetiresOnlyLongSupersededOnes(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	keys := []fsm.SigningKey{
		{KID: "e1", Alg: ES256, Created: at(0)},
		{KID: "e2", Alg: ES256, Created: at(30 * day)}, // supersedes e1
		{KID: "e3", Alg: ES256, Created: at(60 * day)}, // supersedes e2, active
		{KID: "r1", Alg: RS256, Created: at(10 * day)}, // the only RS256: active
	}
	// Day 60.5: e3 is young; e1 superseded 30.5 days ago, e2 12 h ago.
	add, remove := Plan(keys, t0.Add(60*day+12*time.Hour), 30*day, day)
	if !slices.Equal(add, []string{RS256}) || !slices.Equal(remove, []string{"e1"}) {
		t.Fatalf("day 60.5: add %v remove %v", add, remove)
	}
	// Day 95: e3 is old, e2 superseded long ago; the active keys stay.
	add, remove = Plan(keys, t0.Add(95*day), 30*day, day)
	if !slices.Equal(add, []string{ES256, RS256}) || !slices.Equal(remove, []string{"e1", "e2"}) {
		t.Fatalf("day 95: add %v remove %v", add, remove)
	}
	// A single key per alg is never removed, however old.
	_, remove = Plan(keys[3:], t0.Add(1000*day), 30*day, day)
	if len(remove) != 0 {
		t.Fatalf("removed the only key: %v", remove)
	}
}

func TestKeyRetentionIsTheLongestSessionAtLeastADay(t *testing.T) {
	w, _ := newWorld(t)
	if got := KeyRetention(w.FSM); got != MinKeyRetention+retentionSlack {
		t.Fatalf("default retention %v", got)
	}
	ctx := context.Background()
	g, _, err := w.Svc.Create(ctx, idm.System, entry.Group, idm.Input{Name: ptr("long")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Svc.SetGroupPolicy(ctx, admin, g.UUID, func(p *entry.Policy) error {
		p.Enabled, p.AuthExpiry = true, 3*86400
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := KeyRetention(w.FSM); got != 72*time.Hour+retentionSlack {
		t.Fatalf("retention with a 3-day policy %v", got)
	}
}

// A session token signed before a rotation still verifies after it (the
// old key stays in the state); a retirement of the old key ends it, and
// the active key can never be retired.
func TestSessionTokensVerifyAcrossARotation(t *testing.T) {
	w, s := newWorld(t)
	ctx := context.Background()
	now := time.Now()
	sign := func() string {
		tok, err := w.Signer.Sign(token.Claims{Claims: jwt.Claims{Subject: entry.UUIDAdmin, IssuedAt: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(now.Add(time.Hour))}, SessionID: "n1.s" + now.String()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	oldTok := sign()
	oldKid, _, _ := w.Signer.Active(ES256)
	kids, err := s.RotateKeys(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	newKid, _, _ := w.Signer.Active(ES256)
	if newKid != kids[0] || newKid == oldKid {
		t.Fatalf("the signer did not move to the new key: %s -> %s (added %v)", oldKid, newKid, kids)
	}
	if _, err := w.Signer.Verify(oldTok, now); err != nil {
		t.Fatalf("a token of the old key no longer verifies after rotation: %v", err)
	}
	newTok := sign()
	if _, err := w.Signer.Verify(newTok, now); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Svc.RemoveSigningKey(ctx, newKid); err == nil {
		t.Fatal("the active key was removed")
	}
	if _, err := w.Svc.RemoveSigningKey(ctx, oldKid); err != nil {
		t.Fatal(err)
	}
	// A fresh signer (no verified-token cache) refuses what only the
	// retired key could vouch for.
	fresh := token.NewSigner(w.FSM, w.Sealer, "https://gatehouse.test")
	if _, err := fresh.Verify(oldTok, now); err == nil {
		t.Fatal("a token of a retired key still verifies")
	}
	if _, err := fresh.Verify(newTok, now); err != nil {
		t.Fatal(err)
	}
}
