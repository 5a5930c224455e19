package main

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/idmtest"
	"github.com/gatehouse-idm/gatehouse/idm/token"
)

func TestKeyDutyRotatesRetiresAndKeepsSessionsValid(t *testing.T) {
	t0 := time.Now()
	clock := t0
	w := idmtest.New(t, func() time.Time { return clock })
	d := keyDuty{state: w.FSM, svc: w.Svc, sealer: w.Sealer, now: func() time.Time { return clock },
		rotateAfter: 30 * 24 * time.Hour, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	kidsNow := func() []string {
		var out []string
		for _, k := range w.FSM.SigningKeys() {
			out = append(out, k.KID)
		}
		return out
	}
	first := kidsNow()
	tok, err := w.Signer.Sign(token.Claims{Claims: jwt.Claims{Subject: entry.UUIDAdmin, IssuedAt: jwt.NewNumericDate(t0),
		Expiry: jwt.NewNumericDate(t0.Add(8 * time.Hour))}, SessionID: "n1.before-rotation"})
	if err != nil {
		t.Fatal(err)
	}

	// A young key is left alone.
	if added, removed := d.once(ctx); len(added)+len(removed) != 0 {
		t.Fatalf("day 0: added %v removed %v", added, removed)
	}
	// After the rotation period a new ES256 key signs; the old one stays.
	clock = t0.Add(31 * 24 * time.Hour)
	added, removed := d.once(ctx)
	if len(added) != 1 || len(removed) != 0 {
		t.Fatalf("day 31: added %v removed %v", added, removed)
	}
	if kid, _, _ := w.Signer.Active("ES256"); kid != added[0] {
		t.Fatalf("the signer uses %s, not the new key %s", kid, added[0])
	}
	// A session token of the old key still verifies (its own lifetime).
	fresh := token.NewSigner(w.FSM, w.Sealer, idmtest.Issuer)
	if _, err := fresh.Verify(tok, t0.Add(time.Hour)); err != nil {
		t.Fatalf("a session from before the rotation no longer verifies: %v", err)
	}
	// Half a day later the superseded key is still needed: sessions live
	// up to the longest auth_expiry (at least a day).
	clock = clock.Add(12 * time.Hour)
	if added, removed := d.once(ctx); len(added)+len(removed) != 0 {
		t.Fatalf("12 h after rotation: added %v removed %v", added, removed)
	}
	// Past the retention the old key goes, the active one stays.
	clock = clock.Add(13 * time.Hour)
	rotated := added[0]
	if added, removed := d.once(ctx); len(added) != 0 || !slices.Equal(removed, first) {
		t.Fatalf("25 h after rotation: added %v removed %v (first key %v)", added, removed, first)
	}
	if got := kidsNow(); !slices.Equal(got, []string{rotated}) {
		t.Fatalf("keys left: %v, want only %s", got, rotated)
	}
	// Much later, with no rotation in between: a new key, but the one it
	// supersedes stays until the retention has passed — the state never
	// holds fewer than one ES256 key.
	clock = clock.Add(400 * 24 * time.Hour)
	added2, removed2 := d.once(ctx)
	if len(added2) != 1 || len(removed2) != 0 || len(kidsNow()) != 2 {
		t.Fatalf("after a long pause: added %v removed %v keys %v", added2, removed2, kidsNow())
	}
}
