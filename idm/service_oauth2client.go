package idm

import (
	"context"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// The exported doors that idm/oauth2client (OAuth2 client management) and
// the key-rotation duty go through, so that they share this package's
// rights checks, prechecks, proposal path and compare-and-set retry loop
// instead of writing their own.

// CreateOAuth2Client proposes a new oauth2_client entry built by the
// caller (its uuid is chosen before the call: the sealed secret is bound
// to it). The actor needs the rights of mayWrite (idm_admins or
// system_admins).
func (s *Service) CreateOAuth2Client(ctx context.Context, actor Actor, e *entry.Entry) (*entry.Entry, uint64, error) {
	if e.Class != entry.OAuth2Client {
		return nil, 0, Invalid("not an oauth2 client")
	}
	if err := s.mayWrite(actor, e.Class, nil); err != nil {
		return nil, 0, err
	}
	now := s.Now().UnixMilli()
	e.Created, e.Updated = now, now
	if err := s.precheck(e, ""); err != nil {
		return nil, 0, err
	}
	res, err := s.propose(ctx, actor, fsm.TypeEntryCreate, fsm.EntryCreate{Entry: e})
	if err != nil {
		return nil, 0, err
	}
	return s.decodeEntry(res, e.UUID)
}

// UpdateOAuth2Client changes an oauth2_client entry through the
// compare-and-set loop: change edits a fresh copy on every attempt.
func (s *Service) UpdateOAuth2Client(ctx context.Context, actor Actor, id string, change func(*entry.Entry) error) (*entry.Entry, uint64, error) {
	return s.update(ctx, actor, entry.OAuth2Client, id, change)
}

// AddSigningKey proposes key.add as the cluster itself. Callers check the
// rights of whoever asked for it (rotate-keys, legacy crypto) first.
func (s *Service) AddSigningKey(ctx context.Context, key fsm.SigningKey) (uint64, error) {
	res, err := s.propose(ctx, System, fsm.TypeKeyAdd, fsm.KeyAdd{Key: key})
	return res.Index, err
}

// RemoveSigningKey proposes key.remove as the cluster itself.
func (s *Service) RemoveSigningKey(ctx context.Context, kid string) (uint64, error) {
	res, err := s.propose(ctx, System, fsm.TypeKeyRemove, fsm.KeyRemove{KID: kid})
	return res.Index, err
}
