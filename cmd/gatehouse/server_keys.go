package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/oauth2client"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/gatehouse-idm/gatehouse/protocols/api"
)

// keyCheckEvery is how often the leader looks at the key ages: rotation
// periods are days, so a minute late is nothing, and a pass costs two
// reads of the local state.
const keyCheckEvery = time.Minute

// keyDutyRunning keeps one rotation loop per node when leadership is lost
// and won again before the old loop noticed.
var keyDutyRunning sync.Map // *node -> struct{}

// keyRotationDuty rotates and retires signing keys while this node leads:
// a new key once the active one of its algorithm is older than [oauth2]
// key_rotation, and removal of keys superseded longer ago than the
// longest token lifetime the cluster can issue (oauth2client.KeyRetention).
// Every node verifies with whatever keys its state holds, so the order of
// the two steps is what keeps tokens valid across a rotation.
func (n *node) keyRotationDuty() {
	if _, running := keyDutyRunning.LoadOrStore(n, struct{}{}); running {
		return
	}
	defer keyDutyRunning.Delete(n)
	d := keyDuty{state: n.fsm, svc: n.svc, sealer: n.sealer, now: time.Now, rotateAfter: n.cfg.OAuth2.Period(), log: n.log}
	tick := time.NewTicker(keyCheckEvery)
	defer tick.Stop()
	for n.cluster.IsLeader() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		d.once(ctx)
		cancel()
		<-tick.C
	}
}

// keyDuty is one pass of the rotation, apart from the node so tests can
// drive it with their own clock.
type keyDuty struct {
	state       *fsm.FSM
	svc         *idm.Service
	sealer      *seal.Sealer
	now         func() time.Time
	rotateAfter time.Duration
	log         *slog.Logger
}

// once adds and removes what oauth2client.Plan says. Failures are logged
// and retried on the next pass.
func (d keyDuty) once(ctx context.Context) (added, removed []string) {
	keys := d.state.SigningKeys()
	now := d.now()
	retain := oauth2client.KeyRetention(d.state)
	add, remove := oauth2client.Plan(keys, now, d.rotateAfter, retain)
	for _, alg := range add {
		k, err := oauth2client.NewKey(d.sealer, alg, now)
		if err == nil {
			_, err = d.svc.AddSigningKey(ctx, k)
		}
		if err != nil {
			d.log.Warn("signing key rotation failed; retrying later", "alg", alg, "error", err)
			continue
		}
		d.log.Info("signing key rotated", "alg", alg, "kid", k.KID)
		added = append(added, k.KID)
	}
	for _, kid := range remove {
		// Belt and braces: never the key this node's signer would use,
		// whatever order its cache lists the keys in.
		if signingNow(keys, kid) {
			continue
		}
		if _, err := d.svc.RemoveSigningKey(ctx, kid); err != nil {
			d.log.Warn("signing key retirement failed; retrying later", "kid", kid, "error", err)
			continue
		}
		d.log.Info("signing key retired", "kid", kid, "kept_for", retain.String())
		removed = append(removed, kid)
	}
	return added, removed
}

func signingNow(keys []fsm.SigningKey, kid string) bool {
	for _, alg := range []string{oauth2client.ES256, oauth2client.RS256} {
		if k, ok := token.ActiveKey(keys, alg); ok && k.KID == kid {
			return true
		}
	}
	return false
}

// wireOAuth2Admin gives the API its OAuth2 client manager (the
// /v1/oauth2 routes answer 503 without it). It belongs in startNode's
// list of wiring steps next to wireOAuth2.
func (n *node) wireOAuth2Admin(w *wiring) error {
	w.srv.OAuth2ClientDeps = api.OAuth2ClientDeps{OAuth2Clients: oauth2client.New(w.svc, w.sealer)}
	return nil
}
