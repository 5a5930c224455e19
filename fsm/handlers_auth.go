package fsm

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Session is the record of one login session (rule 4: written after the
// login, never awaited by it). Times are Unix milliseconds.
type Session struct {
	ID        string `json:"id"`
	Account   string `json:"account"`
	Mechanism string `json:"mechanism"`
	Issued    int64  `json:"issued"`
	Expires   int64  `json:"expires"`
	Node      string `json:"node,omitempty"`
}

// SessionRecord is the body of session.record v1.
type SessionRecord struct {
	Session Session `json:"session"`
}

// SessionRevoke is the body of session.revoke v1. Account and Expires let
// a session be revoked before its record has landed.
type SessionRevoke struct {
	ID      string `json:"id"`
	Account string `json:"account"`
	Expires int64  `json:"expires"`
}

// ResetToken is a one-time credential reset token, stored by the SHA-256 of
// the token (hex): the token itself never enters the log.
type ResetToken struct {
	Hash    string `json:"hash"`
	Account string `json:"account"`
	Expires int64  `json:"expires"`
	Created int64  `json:"created"`
}

// ResetTokenCreate is the body of reset_token.create v1.
type ResetTokenCreate struct {
	Token ResetToken `json:"token"`
}

// CredentialCommit is the body of credential.commit v1: the whole new
// credential set of an account, from a credential-update session.
type CredentialCommit struct {
	UUID            string            `json:"uuid"`
	ExpectedVersion uint64            `json:"expected_version"`
	Credentials     entry.Credentials `json:"credentials"`
	// ResetTokenHash: the session was opened with this reset token, which
	// the commit consumes.
	ResetTokenHash string `json:"reset_token_hash,omitempty"`
}

// GroupPolicy is the body of group.policy v1: the group's whole new policy
// (nil removes it).
type GroupPolicy struct {
	UUID            string        `json:"uuid"`
	ExpectedVersion uint64        `json:"expected_version"`
	Policy          *entry.Policy `json:"policy"`
}

// BadlistAppend is the body of badlist.append v1: lower-cased passwords.
type BadlistAppend struct {
	Passwords []string `json:"passwords"`
}

// Bounds of the commands above.
const (
	MaxBadlistPerCommand = 20000
	MaxBadlistLen        = 256
	pruneBatch           = 64
	// MaxResetTokenLife (ms): a day.
	MaxResetTokenLife = 24 * 3600 * 1000
)

// expiry index keys: 8-byte expiry (ms) | kind | id.
const (
	kindSession = 's'
	kindRevoked = 'r'
	kindToken   = 't'
)

func expiryKey(exp int64, kind byte, id string) []byte {
	k := make([]byte, 9+len(id))
	binary.BigEndian.PutUint64(k, uint64(exp))
	k[8] = kind
	copy(k[9:], id)
	return k
}

func (a *applyCtx) indexExpiry(exp int64, kind byte, id string) *ApplyError {
	if err := a.tx.Bucket(bExpiry).Put(expiryKey(exp, kind, id), present); err != nil {
		return Errf(CodeInvalid, "%v", err)
	}
	return nil
}

// pruneExpired forgets a bounded number of records whose expiry is before
// the command's time. Bounded, so that no single command does unbounded
// work; every session and token command prunes, which keeps pace.
func (a *applyCtx) pruneExpired() *ApplyError {
	c := a.tx.Bucket(bExpiry).Cursor()
	var keys [][]byte
	for k, _ := c.First(); k != nil && len(keys) < pruneBatch; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k[:8])) >= a.cmd.Time {
			break
		}
		keys = append(keys, bytes.Clone(k))
	}
	var revoked []string
	for _, k := range keys {
		id := string(k[9:])
		var b []byte
		switch k[8] {
		case kindSession:
			b = bSessions
		case kindRevoked:
			b, revoked = bRevoked, append(revoked, id)
		case kindToken:
			b = bResetTokens
		default:
			if err := a.pruneOther(k[8], id); err != nil {
				return err
			}
		}
		if b != nil {
			if err := a.tx.Bucket(b).Delete([]byte(id)); err != nil {
				return Errf(CodeInvalid, "%v", err)
			}
		}
		if err := a.tx.Bucket(bExpiry).Delete(k); err != nil {
			return Errf(CodeInvalid, "%v", err)
		}
	}
	if len(revoked) > 0 {
		a.after(func(c *cache) {
			for _, id := range revoked {
				delete(c.revoked, id)
			}
		})
	}
	return nil
}

func applySessionRecord(a *applyCtx) (any, *ApplyError) {
	var b SessionRecord
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	s := b.Session
	if s.ID == "" || len(s.ID) > 128 || s.Expires <= s.Issued || !entry.LooksLikeUUID(s.Account) {
		return nil, Errf(CodeInvalid, "a session needs an id, an account and an expiry after its issue time")
	}
	if a.cmd.Actor != "" && a.cmd.Actor != s.Account {
		return nil, Errf(CodeDenied, "a session is recorded only for the account that logged in")
	}
	if e, err := a.getEntry(s.Account); err != nil || e == nil {
		if err != nil {
			return nil, err
		}
		return nil, Errf(CodeNotFound, "no account %s", s.Account)
	}
	if err := a.pruneExpired(); err != nil {
		return nil, err
	}
	// Revoked before the record landed, or already expired: nothing to keep.
	if a.tx.Bucket(bRevoked).Get([]byte(s.ID)) != nil || s.Expires < a.cmd.Time {
		return nil, nil
	}
	var old Session
	if ok, _ := getJSON(a.tx.Bucket(bSessions), s.ID, &old); ok && old.Account != s.Account {
		return nil, Errf(CodeConflict, "session %s belongs to another account", s.ID)
	}
	if err := putJSON(a.tx.Bucket(bSessions), s.ID, s); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return nil, a.indexExpiry(s.Expires, kindSession, s.ID)
}

func applySessionRevoke(a *applyCtx) (any, *ApplyError) {
	var b SessionRevoke
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if b.ID == "" || len(b.ID) > 128 {
		return nil, Errf(CodeInvalid, "no session id")
	}
	var s Session
	if ok, _ := getJSON(a.tx.Bucket(bSessions), b.ID, &s); ok {
		b.Account, b.Expires = s.Account, s.Expires
	}
	if a.cmd.Actor != "" && a.cmd.Actor != b.Account {
		acct, err := a.getEntry(b.Account)
		if err != nil {
			return nil, err
		}
		if acct == nil {
			if !a.actorIsSystemAdmin() {
				return nil, Errf(CodeNotFound, "no session %s", b.ID)
			}
		} else if err := a.mayWriteEntry(acct); err != nil {
			return nil, err
		}
	}
	if err := a.pruneExpired(); err != nil {
		return nil, err
	}
	if err := a.tx.Bucket(bSessions).Delete([]byte(b.ID)); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	if b.Expires < a.cmd.Time {
		return nil, nil // expired already: no token of it verifies any more
	}
	if err := a.tx.Bucket(bRevoked).Put([]byte(b.ID), u64(uint64(b.Expires))); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	id := b.ID
	a.after(func(c *cache) { c.revoked[id] = true })
	return nil, a.indexExpiry(b.Expires, kindRevoked, b.ID)
}

func applyResetTokenCreate(a *applyCtx) (any, *ApplyError) {
	var b ResetTokenCreate
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	t := b.Token
	if len(t.Hash) != 64 || t.Expires <= a.cmd.Time {
		return nil, Errf(CodeInvalid, "a reset token needs a SHA-256 hash and an expiry in the future")
	}
	if t.Expires-a.cmd.Time > MaxResetTokenLife {
		return nil, Errf(CodeInvalid, "a reset token lives at most 24 hours")
	}
	acct, err := a.getEntry(t.Account)
	if err != nil {
		return nil, err
	}
	if acct == nil || acct.Class == entry.Group {
		return nil, Errf(CodeNotFound, "no account %s", t.Account)
	}
	if err := a.mayWriteEntry(acct); err != nil {
		return nil, err
	}
	if err := a.pruneExpired(); err != nil {
		return nil, err
	}
	if err := putJSON(a.tx.Bucket(bResetTokens), t.Hash, t); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return nil, a.indexExpiry(t.Expires, kindToken, t.Hash)
}

func applyCredentialCommit(a *applyCtx) (any, *ApplyError) {
	var b CredentialCommit
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	old, err := a.getEntry(b.UUID)
	if err != nil {
		return nil, err
	}
	if old == nil || old.Class == entry.Group {
		return nil, Errf(CodeNotFound, "no account %s", b.UUID)
	}
	switch {
	case b.ResetTokenHash != "":
		var t ResetToken
		ok, _ := getJSON(a.tx.Bucket(bResetTokens), b.ResetTokenHash, &t)
		if !ok || t.Account != b.UUID || t.Expires < a.cmd.Time {
			return nil, Errf(CodeDenied, "the reset token is not valid: it was used already, has expired, or is for another account")
		}
		if err := a.tx.Bucket(bResetTokens).Delete([]byte(b.ResetTokenHash)); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
	case a.cmd.Actor == b.UUID:
	default:
		if err := a.mayWriteEntry(old); err != nil {
			return nil, err
		}
	}
	if old.Version != b.ExpectedVersion {
		return nil, Errf(CodeConflict, "%s changed concurrently (version %d, expected %d)", old.Name, old.Version, b.ExpectedVersion)
	}
	e := old.Clone()
	e.Credentials = b.Credentials.Clone()
	e.Updated = a.cmd.Time
	if b.ResetTokenHash != "" {
		// A reset is what one does to an account someone else may hold:
		// every session from before it ends.
		e.SessionsNotBefore = a.cmd.Time
	}
	if err := a.checkEntry(e, old.Name); err != nil {
		return nil, err
	}
	if err := a.putEntry(e, old); err != nil {
		return nil, err
	}
	return nil, nil
}

func applyGroupPolicy(a *applyCtx) (any, *ApplyError) {
	var b GroupPolicy
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if !a.actorIsSystemAdmin() && !a.isMember(a.cmd.Actor, entry.UUIDIDMAccountPolicyAdmins) {
		return nil, Errf(CodeDenied, "account policy is managed by members of idm_account_policy_admins")
	}
	old, err := a.getEntry(b.UUID)
	if err != nil {
		return nil, err
	}
	if old == nil || old.Class != entry.Group {
		return nil, Errf(CodeNotFound, "no group %s", b.UUID)
	}
	if b.ExpectedVersion != 0 && old.Version != b.ExpectedVersion {
		return nil, Errf(CodeConflict, "%s changed concurrently", old.Name)
	}
	e := old.Clone()
	e.Policy = b.Policy.Clone()
	e.Updated = a.cmd.Time
	if err := a.checkEntry(e, old.Name); err != nil {
		return nil, err
	}
	if err := a.putEntry(e, old); err != nil {
		return nil, err
	}
	return e, nil
}

func applyBadlistAppend(a *applyCtx) (any, *ApplyError) {
	var b BadlistAppend
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if err := a.maySystem(); err != nil {
		return nil, err
	}
	if len(b.Passwords) == 0 || len(b.Passwords) > MaxBadlistPerCommand {
		return nil, Errf(CodeInvalid, "a badlist command holds 1 to %d passwords", MaxBadlistPerCommand)
	}
	for _, p := range b.Passwords {
		if p == "" || len(p) > MaxBadlistLen || p != strings.ToLower(p) {
			return nil, Errf(CodeInvalid, "badlist passwords must be lower-case, 1 to %d bytes", MaxBadlistLen)
		}
	}
	bl := a.tx.Bucket(bBadlist)
	added := 0
	for _, p := range b.Passwords {
		if bl.Get([]byte(p)) != nil {
			continue
		}
		if err := bl.Put([]byte(p), present); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
		added++
	}
	return map[string]int{"added": added}, nil
}
