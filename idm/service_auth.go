package idm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Reset tokens: 1 hour unless asked otherwise, never longer than a day.
const (
	DefaultResetTTL = time.Hour
	MaxResetTTL     = 24 * time.Hour
)

// HashResetToken is how a reset token is stored and looked up: the log
// holds only its SHA-256.
func HashResetToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// CommitCredentials proposes the whole new credential set of an account
// (one credential.commit). A commit opened with a reset token names it and
// consumes it; otherwise the actor must be the account itself or may write it.
func (s *Service) CommitCredentials(ctx context.Context, actor Actor, accountUUID string, expectedVersion uint64, creds entry.Credentials, resetTokenHash string) (uint64, error) {
	acct, ok := s.State.Entry(accountUUID)
	if !ok || acct.Class == entry.Group {
		return 0, NotFound("no account %q", accountUUID)
	}
	if resetTokenHash == "" && actor.UUID != acct.UUID {
		if err := s.mayWrite(actor, acct.Class, acct); err != nil {
			return 0, err
		}
	}
	if err := creds.Validate(acct.Class); err != nil {
		return 0, Invalid("%v", err)
	}
	if resetTokenHash != "" {
		// The account acts for itself through the token.
		actor = Actor{UUID: acct.UUID, Name: acct.Name}
	}
	res, err := s.propose(ctx, actor, fsm.TypeCredentialCommit, fsm.CredentialCommit{UUID: acct.UUID,
		ExpectedVersion: expectedVersion, Credentials: creds, ResetTokenHash: resetTokenHash})
	return res.Index, err
}

// CreateResetToken issues a one-time credential reset token for an account.
func (s *Service) CreateResetToken(ctx context.Context, actor Actor, accountID string, ttl time.Duration) (string, time.Time, error) {
	acct, ok := s.Lookup(accountID)
	if !ok || acct.Class == entry.Group {
		return "", time.Time{}, NotFound("no person or service account named %q", accountID)
	}
	if err := s.mayWrite(actor, acct.Class, acct); err != nil {
		return "", time.Time{}, err
	}
	if ttl == 0 {
		ttl = DefaultResetTTL
	}
	if ttl < time.Minute || ttl > MaxResetTTL {
		return "", time.Time{}, Invalid("a reset token lives between 60 and %d seconds", int(MaxResetTTL.Seconds()))
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	now := s.Now()
	exp := now.Add(ttl)
	_, err := s.propose(ctx, actor, fsm.TypeResetTokenCreate, fsm.ResetTokenCreate{Token: fsm.ResetToken{
		Hash: HashResetToken(tok), Account: acct.UUID, Expires: exp.UnixMilli(), Created: now.UnixMilli()}})
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// MayManagePolicy reports membership of idm_account_policy_admins (or
// system_admins).
func (s *Service) MayManagePolicy(a Actor) bool {
	return s.IsSystemAdmin(a) || (a.UUID != "" && s.State.IsMemberOf(a.UUID, entry.UUIDIDMAccountPolicyAdmins))
}

// SetGroupPolicy changes a group's account policy: change edits a copy of
// the current policy (a zero Policy when there is none).
func (s *Service) SetGroupPolicy(ctx context.Context, actor Actor, groupID string, change func(p *entry.Policy) error) (*entry.Entry, error) {
	if !s.MayManagePolicy(actor) {
		return nil, Forbidden("account policy is managed by members of idm_account_policy_admins")
	}
	for attempt := 0; ; attempt++ {
		g, err := s.lookupClass(groupID, entry.Group)
		if err != nil {
			return nil, err
		}
		p := g.Policy.Clone()
		if p == nil {
			p = &entry.Policy{}
		}
		if err := change(p); err != nil {
			return nil, err
		}
		if err := p.Validate(); err != nil {
			return nil, Invalid("%v", err)
		}
		res, err := s.propose(ctx, actor, fsm.TypeGroupPolicy, fsm.GroupPolicy{UUID: g.UUID, ExpectedVersion: g.Version, Policy: p})
		if err != nil {
			if ae, ok := err.(*Error); ok && ae.Code == "conflict" && attempt < casRetries {
				continue
			}
			return nil, err
		}
		e, _, err := s.decodeEntry(res, g.UUID)
		return e, err
	}
}

// AppendBadlist adds lower-cased passwords to the badlist, in commands of
// at most fsm.MaxBadlistPerCommand.
func (s *Service) AppendBadlist(ctx context.Context, actor Actor, lower []string) (int, error) {
	if !s.IsSystemAdmin(actor) && actor != System {
		return 0, Forbidden("only members of system_admins may change the password badlist")
	}
	added := 0
	for len(lower) > 0 {
		n := min(len(lower), fsm.MaxBadlistPerCommand)
		chunk := lower[:n]
		lower = lower[n:]
		for _, p := range chunk {
			if p == "" || len(p) > fsm.MaxBadlistLen || p != strings.ToLower(p) {
				return added, Invalid("badlist passwords must be lower-case, 1 to %d bytes", fsm.MaxBadlistLen)
			}
		}
		res, err := s.propose(ctx, actor, fsm.TypeBadlistAppend, fsm.BadlistAppend{Passwords: chunk})
		if err != nil {
			return added, err
		}
		var v struct {
			Added int `json:"added"`
		}
		if len(res.Value) > 0 {
			if err := json.Unmarshal(res.Value, &v); err != nil {
				return added, err
			}
		}
		added += v.Added
	}
	return added, nil
}

// SoftlockReset forgives every failed attempt of an account so far.
func (s *Service) SoftlockReset(ctx context.Context, actor Actor, accountID string) error {
	acct, ok := s.Lookup(accountID)
	if !ok || acct.Class == entry.Group {
		return NotFound("no person or service account named %q", accountID)
	}
	_, _, err := s.update(ctx, actor, acct.Class, acct.UUID, func(e *entry.Entry) error {
		e.SoftlockReset = s.Now().UnixMilli()
		return nil
	})
	return err
}

// RecordSession writes the record of a login that already succeeded
// (rule 4: the login never waits for this).
func (s *Service) RecordSession(ctx context.Context, sess fsm.Session) error {
	_, err := s.propose(ctx, Actor{UUID: sess.Account, Name: s.State.NameOf(sess.Account)}, fsm.TypeSessionRecord, fsm.SessionRecord{Session: sess})
	return err
}

// RevokeSession revokes a session: the account's own, or any session of an
// account the actor may write. expires bounds how long the revocation must
// be remembered when the record has not landed yet (the caller's token).
func (s *Service) RevokeSession(ctx context.Context, actor Actor, id, account string, expires time.Time) error {
	if sess, ok := s.State.Session(id); ok {
		account, expires = sess.Account, time.UnixMilli(sess.Expires)
	} else if account == "" {
		return NotFound("no session %q", id)
	}
	if actor.UUID != account {
		acct, ok := s.State.Entry(account)
		if !ok {
			return NotFound("no session %q", id)
		}
		if err := s.mayWrite(actor, acct.Class, acct); err != nil {
			return err
		}
	}
	_, err := s.propose(ctx, actor, fsm.TypeSessionRevoke, fsm.SessionRevoke{ID: id, Account: account, Expires: expires.UnixMilli()})
	return err
}
