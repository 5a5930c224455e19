package oauth2client

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// Signing algorithms.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// NewKey makes a sealed signing key of alg. Kids are time-ordered (uuid
// v7), so the store's kid order follows creation among these keys.
func NewKey(sealer *seal.Sealer, alg string, now time.Time) (fsm.SigningKey, error) {
	kid := uuid.Must(uuid.NewV7()).String()
	if alg == RS256 {
		return token.GenerateRSAKey(sealer, kid, now)
	}
	return token.GenerateKey(sealer, kid, now)
}

func hasAlg(keys []fsm.SigningKey, alg string) bool {
	_, ok := fsm.NewestKey(keys, alg)
	return ok
}

// EnsureRSAKey adds an RS256 key, as the cluster, if the cluster has none.
// Callers have checked the rights of whoever asked.
func (s *Service) EnsureRSAKey(ctx context.Context) error {
	if hasAlg(s.IDM.State.SigningKeys(), RS256) {
		return nil
	}
	k, err := NewKey(s.Sealer, RS256, s.IDM.Now())
	if err != nil {
		return err
	}
	_, err = s.IDM.AddSigningKey(ctx, k)
	return err
}

// RotateKeys adds a new ES256 key and, if the cluster signs RS256 for
// legacy clients, a new RS256 key. The old keys stay until the rotation
// duty retires them. It returns the new kids.
func (s *Service) RotateKeys(ctx context.Context, actor idm.Actor) ([]string, error) {
	if actor != idm.System && !s.IDM.IsIDMAdmin(actor) {
		return nil, idm.Forbidden("%s may not rotate signing keys: that needs membership of idm_admins or system_admins", actor.Name)
	}
	algs := []string{ES256}
	if hasAlg(s.IDM.State.SigningKeys(), RS256) {
		algs = append(algs, RS256)
	}
	var kids []string
	for _, alg := range algs {
		k, err := NewKey(s.Sealer, alg, s.IDM.Now())
		if err != nil {
			return kids, err
		}
		if _, err := s.IDM.AddSigningKey(ctx, k); err != nil {
			return kids, err
		}
		kids = append(kids, k.KID)
	}
	return kids, nil
}

// MinKeyRetention is the floor of how long a superseded key stays in the
// JWKS: a day, longer than any token the cluster issues by default.
const MinKeyRetention = 24 * time.Hour

// retentionSlack covers clock skew between nodes and the 30 s leeway of
// token verification.
const retentionSlack = 5 * time.Minute

// KeyRetention is how long a superseded key must stay: the longest token
// lifetime the cluster can issue, i.e. the largest auth_expiry of any
// account policy (sessions are the longest-lived signed tokens; OAuth2
// access and ID tokens are shorter, refresh tokens are sealed, not
// signed), at least MinKeyRetention, plus a little slack.
func KeyRetention(f *fsm.FSM) time.Duration {
	longest := time.Duration(entry.DefaultAuthExpiry) * time.Second
	for _, g := range f.Entries(entry.Group) {
		if g.Policy != nil && g.Policy.AuthExpiry > 0 {
			longest = max(longest, time.Duration(g.Policy.AuthExpiry)*time.Second)
		}
	}
	return max(longest, MinKeyRetention) + retentionSlack
}

// Plan decides what the rotation duty does now: which algorithms need a
// new key (the active one is older than rotateAfter) and which keys to
// remove (superseded — a newer key of the same alg exists — longer than
// retain ago). The active key of an alg is never removed.
func Plan(keys []fsm.SigningKey, now time.Time, rotateAfter, retain time.Duration) (add []string, remove []string) {
	for _, alg := range []string{ES256, RS256} {
		active, ok := fsm.NewestKey(keys, alg)
		if !ok {
			continue
		}
		if now.Sub(time.UnixMilli(active.Created)) >= rotateAfter {
			add = append(add, alg)
		}
		for _, k := range keys {
			if k.Alg != alg || k.KID == active.KID {
				continue
			}
			// Superseded when the next newer key of its alg appeared:
			// from then on nothing new was signed with it.
			superseded := active.Created
			for _, o := range keys {
				if o.Alg == alg && o.KID != k.KID && (o.Created > k.Created || (o.Created == k.Created && o.KID > k.KID)) && o.Created < superseded {
					superseded = o.Created
				}
			}
			if now.Sub(time.UnixMilli(superseded)) > retain {
				remove = append(remove, k.KID)
			}
		}
	}
	return add, remove
}
