package oauth2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
)

// Writer proposes the provider's Raft writes. Each needs a leader; none is
// on the path of authorize (with remembered consent), code exchange or
// client credentials.
type Writer struct {
	Prop  idm.Proposer
	State *fsm.FSM
	Now   func() time.Time
}

// ErrRefreshReused: the refresh token had been used before; its whole
// family (the OAuth2 session) is now revoked.
var ErrRefreshReused = errors.New("this refresh token was used before: the session is revoked")

func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// propose sends one command and maps refusals to idm errors, then waits
// (bounded) until this node applied it, so that its next read sees it.
func (w *Writer) propose(ctx context.Context, actor, typ string, body any) (fsm.Result, error) {
	cmd, err := fsm.NewCommand(typ, 1, requestID(), w.Now().UnixMilli(), body)
	if err != nil {
		return fsm.Result{}, err
	}
	cmd.Actor = actor
	res, err := w.Prop.Apply(ctx, cmd)
	if err != nil {
		return res, idm.Unavailable("the change could not be confirmed by the cluster (%v); retry when it has a leader", err)
	}
	if res.Err != nil {
		switch res.Err.Code {
		case fsm.CodeNotFound:
			return res, idm.NotFound("%s", res.Err.Message)
		case fsm.CodeDenied:
			return res, idm.Forbidden("%s", res.Err.Message)
		case fsm.CodeConflict:
			return res, idm.Conflict("%s", res.Err.Message)
		}
		return res, idm.Invalid("%s", res.Err.Message)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w.State.WaitApplied(wctx, res.Index)
	return res, nil
}

// RecordConsent remembers that account granted client (uuid) scopes.
func (w *Writer) RecordConsent(ctx context.Context, account, client string, scopes []string) error {
	_, err := w.propose(ctx, account, fsm.TypeOAuth2Consent, fsm.OAuth2Consent{Account: account, Client: client, Scopes: NormalizeScopes(scopes)})
	return err
}

// UseRefresh records the use of a refresh token; ErrRefreshReused when it
// had been used before (the family is then revoked cluster-wide).
func (w *Writer) UseRefresh(ctx context.Context, r fsm.OAuth2Refresh) error {
	res, err := w.propose(ctx, r.Account, fsm.TypeOAuth2Refresh, r)
	if err != nil {
		return err
	}
	var out fsm.OAuth2RefreshResult
	if len(res.Value) > 0 {
		if err := json.Unmarshal(res.Value, &out); err != nil {
			return fmt.Errorf("refresh result: %w", err)
		}
	}
	if out.Reused {
		return ErrRefreshReused
	}
	return nil
}

// Revoke revokes an OAuth2 session (refresh family) or a login session by
// id: every token carrying it is refused from then on, on every node.
// expires is when the session would have ended anyway.
func (w *Writer) Revoke(ctx context.Context, id, account string, expires time.Time) error {
	_, err := w.propose(ctx, "", fsm.TypeSessionRevoke, fsm.SessionRevoke{ID: id, Account: account, Expires: expires.UnixMilli()})
	return err
}

// CreateDevice stores a new pending device grant.
func (w *Writer) CreateDevice(ctx context.Context, d fsm.OAuth2Device) error {
	_, err := w.propose(ctx, "", fsm.TypeOAuth2DeviceCreate, fsm.OAuth2DeviceCreate{Device: d})
	return err
}

// DecideDevice approves or denies the device grant of a user code.
func (w *Writer) DecideDevice(ctx context.Context, d fsm.OAuth2DeviceDecide) error {
	d.Granted = NormalizeScopes(d.Granted)
	_, err := w.propose(ctx, d.Account, fsm.TypeOAuth2DeviceDecide, d)
	return err
}

// ConsumeDevice hands out an approved device grant once.
func (w *Writer) ConsumeDevice(ctx context.Context, hash string) (fsm.OAuth2Device, error) {
	res, err := w.propose(ctx, "", fsm.TypeOAuth2DeviceConsume, fsm.OAuth2DeviceConsume{Hash: hash})
	if err != nil {
		return fsm.OAuth2Device{}, err
	}
	var d fsm.OAuth2Device
	if err := json.Unmarshal(res.Value, &d); err != nil {
		return d, fmt.Errorf("device grant: %w", err)
	}
	return d, nil
}
