package fsm

import (
	"slices"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// OAuth2 provider commands. What a provider node must remember across the
// cluster is small: consents, one counter per refresh family, and device
// grants. Authorization codes and auth requests never enter the log (they
// live in the issuing node's memory, or sealed in the browser).

// OAuth2Consent is the body of oauth2.consent v1 and the stored record:
// Account granted Client (a uuid) Scopes (sorted). Empty Scopes withdraws
// the consent.
type OAuth2Consent struct {
	Account string   `json:"account"`
	Client  string   `json:"client"`
	Scopes  []string `json:"scopes"`
	Granted int64    `json:"granted,omitempty"`
}

// OAuth2Refresh is the body of oauth2.refresh v1: a refresh token of
// Family at Generation is being used. Account, Client and Expires travel
// in the (sealed) token and create the family record on first use.
type OAuth2Refresh struct {
	Family     string `json:"family"`
	Generation uint64 `json:"generation"`
	Account    string `json:"account"`
	Client     string `json:"client"`
	Expires    int64  `json:"expires"`
}

// OAuth2Family is the stored record of a refresh family: Next is the only
// generation that may still be used.
type OAuth2Family struct {
	Account string `json:"account"`
	Client  string `json:"client"`
	Next    uint64 `json:"next"`
	Expires int64  `json:"expires"`
	Revoked bool   `json:"revoked,omitempty"`
}

// OAuth2RefreshResult is the value of an applied oauth2.refresh. Reused
// means the generation had been used before: the family is now revoked
// (the command succeeds, so that the revocation is written; the proposer
// refuses the request).
type OAuth2RefreshResult struct {
	Reused bool `json:"reused,omitempty"`
}

// OAuth2Device is a device grant (RFC 8628), stored under the SHA-256 (hex)
// of its device code; the device code itself never enters the log.
type OAuth2Device struct {
	Hash     string   `json:"hash"`
	UserCode string   `json:"user_code"`
	Client   string   `json:"client"`
	Scopes   []string `json:"scopes"`
	Created  int64    `json:"created"`
	Expires  int64    `json:"expires"`
	// State: pending, approved or denied.
	State    string   `json:"state"`
	Account  string   `json:"account,omitempty"`
	Granted  []string `json:"granted,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
}

// Device grant states.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// OAuth2DeviceCreate is the body of oauth2.device.create v1.
type OAuth2DeviceCreate struct {
	Device OAuth2Device `json:"device"`
}

// OAuth2DeviceDecide is the body of oauth2.device.decide v1: Account
// approves (with Granted scopes) or denies the grant named by UserCode.
type OAuth2DeviceDecide struct {
	UserCode string   `json:"user_code"`
	Account  string   `json:"account"`
	Approve  bool     `json:"approve"`
	Granted  []string `json:"granted,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	AMR      []string `json:"amr,omitempty"`
}

// OAuth2DeviceConsume is the body of oauth2.device.consume v1: the
// approved grant is handed out once and forgotten. The value is the grant.
type OAuth2DeviceConsume struct {
	Hash string `json:"hash"`
}

// Bounds of the OAuth2 commands.
const (
	MaxOAuth2Scopes = 64
	// MaxRefreshLife (ms): a refresh family lives at most 30 days.
	MaxRefreshLife = 30 * 24 * 3600 * 1000
	// MaxDeviceLife (ms): a device grant waits at most 30 minutes.
	MaxDeviceLife = 30 * 60 * 1000
)

func consentKey(account, client string) string { return account + "|" + client }

func validScopes(scopes []string) bool {
	if len(scopes) > MaxOAuth2Scopes || !slices.IsSorted(scopes) {
		return false
	}
	for i, s := range scopes {
		if entry.ValidScope(s) != nil || (i > 0 && scopes[i-1] == s) {
			return false
		}
	}
	return true
}

// oauth2Client returns the client entry with this uuid.
func (a *applyCtx) oauth2Client(id string) (*entry.Entry, *ApplyError) {
	c, err := a.getEntry(id)
	if err != nil {
		return nil, err
	}
	if c == nil || c.Class != entry.OAuth2Client || c.OAuth2 == nil {
		return nil, Errf(CodeNotFound, "no oauth2 client %s", id)
	}
	return c, nil
}

// person returns the person with this uuid.
func (a *applyCtx) person(id string) (*entry.Entry, *ApplyError) {
	p, err := a.getEntry(id)
	if err != nil {
		return nil, err
	}
	if p == nil || p.Class != entry.Person {
		return nil, Errf(CodeNotFound, "no person %s", id)
	}
	return p, nil
}

func applyOAuth2Consent(a *applyCtx) (any, *ApplyError) {
	var b OAuth2Consent
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if !validScopes(b.Scopes) {
		return nil, Errf(CodeInvalid, "consent scopes must be sorted, distinct and valid (at most %d)", MaxOAuth2Scopes)
	}
	if a.cmd.Actor != "" && a.cmd.Actor != b.Account {
		return nil, Errf(CodeDenied, "consent is given only by the account itself")
	}
	if _, err := a.person(b.Account); err != nil {
		return nil, err
	}
	if _, err := a.oauth2Client(b.Client); err != nil {
		return nil, err
	}
	bk := a.tx.Bucket(bOAuth2Consent)
	if len(b.Scopes) == 0 {
		if err := bk.Delete([]byte(consentKey(b.Account, b.Client))); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
		return nil, nil
	}
	b.Granted = a.cmd.Time
	if err := putJSON(bk, consentKey(b.Account, b.Client), b); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return nil, nil
}

func applyOAuth2Refresh(a *applyCtx) (any, *ApplyError) {
	var b OAuth2Refresh
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if b.Family == "" || len(b.Family) > 128 || !entry.LooksLikeUUID(b.Account) || !entry.LooksLikeUUID(b.Client) {
		return nil, Errf(CodeInvalid, "a refresh needs a family, an account and a client")
	}
	if b.Expires <= a.cmd.Time || b.Expires-a.cmd.Time > MaxRefreshLife {
		return nil, Errf(CodeDenied, "the refresh token has expired")
	}
	if a.cmd.Actor != "" && a.cmd.Actor != b.Account {
		return nil, Errf(CodeDenied, "a refresh is made only for the account of its family")
	}
	if _, err := a.person(b.Account); err != nil {
		return nil, err
	}
	if _, err := a.oauth2Client(b.Client); err != nil {
		return nil, err
	}
	if a.tx.Bucket(bRevoked).Get([]byte(b.Family)) != nil {
		return nil, Errf(CodeDenied, "this OAuth2 session has been revoked")
	}
	var fam OAuth2Family
	found, _ := getJSON(a.tx.Bucket(bOAuth2Refresh), b.Family, &fam)
	if found && (fam.Account != b.Account || fam.Client != b.Client) {
		return nil, Errf(CodeConflict, "refresh family %s belongs to another account or client", b.Family)
	}
	if found && fam.Revoked {
		return nil, Errf(CodeDenied, "this OAuth2 session has been revoked")
	}
	if err := a.pruneExpired(); err != nil {
		return nil, err
	}
	if found && b.Generation < fam.Next {
		// Reuse: someone else holds a copy of this token. Revoke the whole
		// family, like session.revoke does for a login session.
		fam.Revoked = true
		if err := putJSON(a.tx.Bucket(bOAuth2Refresh), b.Family, fam); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
		if err := a.tx.Bucket(bRevoked).Put([]byte(b.Family), u64(uint64(fam.Expires))); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
		id := b.Family
		a.after(func(c *cache) { c.revoked[id] = true })
		if err := a.indexExpiry(fam.Expires, kindRevoked, b.Family); err != nil {
			return nil, err
		}
		return OAuth2RefreshResult{Reused: true}, nil
	}
	if !found {
		fam = OAuth2Family{Account: b.Account, Client: b.Client, Expires: b.Expires}
		if err := a.indexExpiry(b.Expires, kindOAuth2Refresh, b.Family); err != nil {
			return nil, err
		}
	}
	fam.Next = b.Generation + 1
	if err := putJSON(a.tx.Bucket(bOAuth2Refresh), b.Family, fam); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return OAuth2RefreshResult{}, nil
}

func validUserCode(c string) bool {
	if len(c) < 4 || len(c) > 32 {
		return false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func applyOAuth2DeviceCreate(a *applyCtx) (any, *ApplyError) {
	var b OAuth2DeviceCreate
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	d := b.Device
	if len(d.Hash) != 64 || !validUserCode(d.UserCode) || !validScopes(d.Scopes) {
		return nil, Errf(CodeInvalid, "a device grant needs a SHA-256 hash, a user code (A-Z, 0-9, -) and valid scopes")
	}
	if d.Expires <= a.cmd.Time || d.Expires-a.cmd.Time > MaxDeviceLife {
		return nil, Errf(CodeInvalid, "a device grant lives at most 30 minutes")
	}
	if d.State != DevicePending || d.Account != "" || len(d.Granted) > 0 {
		return nil, Errf(CodeInvalid, "a new device grant is pending")
	}
	if a.cmd.Actor != "" {
		return nil, Errf(CodeDenied, "device grants are created by the provider itself")
	}
	if _, err := a.oauth2Client(d.Client); err != nil {
		return nil, err
	}
	if err := a.pruneExpired(); err != nil {
		return nil, err
	}
	if a.tx.Bucket(bOAuth2UserCodes).Get([]byte(d.UserCode)) != nil || a.tx.Bucket(bOAuth2Device).Get([]byte(d.Hash)) != nil {
		return nil, Errf(CodeConflict, "user code or device code already in use")
	}
	if err := putJSON(a.tx.Bucket(bOAuth2Device), d.Hash, d); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	if err := a.tx.Bucket(bOAuth2UserCodes).Put([]byte(d.UserCode), []byte(d.Hash)); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return nil, a.indexExpiry(d.Expires, kindOAuth2Device, d.Hash)
}

func applyOAuth2DeviceDecide(a *applyCtx) (any, *ApplyError) {
	var b OAuth2DeviceDecide
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if !validUserCode(b.UserCode) || !validScopes(b.Granted) || len(b.AMR) > 8 {
		return nil, Errf(CodeInvalid, "a decision needs a user code and valid scopes")
	}
	if a.cmd.Actor != "" && a.cmd.Actor != b.Account {
		return nil, Errf(CodeDenied, "a device grant is decided only by the account that logged in")
	}
	if _, err := a.person(b.Account); err != nil {
		return nil, err
	}
	hash := a.tx.Bucket(bOAuth2UserCodes).Get([]byte(b.UserCode))
	var d OAuth2Device
	if hash == nil {
		return nil, Errf(CodeNotFound, "no pending device grant with this code")
	}
	if ok, _ := getJSON(a.tx.Bucket(bOAuth2Device), string(hash), &d); !ok || d.State != DevicePending || d.Expires < a.cmd.Time {
		return nil, Errf(CodeNotFound, "no pending device grant with this code")
	}
	d.Account, d.AuthTime, d.AMR = b.Account, b.AuthTime, b.AMR
	d.State = DeviceDenied
	if b.Approve {
		d.State, d.Granted = DeviceApproved, b.Granted
	}
	if err := a.tx.Bucket(bOAuth2UserCodes).Delete([]byte(b.UserCode)); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	if err := putJSON(a.tx.Bucket(bOAuth2Device), d.Hash, d); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return nil, nil
}

func applyOAuth2DeviceConsume(a *applyCtx) (any, *ApplyError) {
	var b OAuth2DeviceConsume
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if len(b.Hash) != 64 {
		return nil, Errf(CodeInvalid, "a device code hash is SHA-256 hex")
	}
	var d OAuth2Device
	if ok, _ := getJSON(a.tx.Bucket(bOAuth2Device), b.Hash, &d); !ok || d.State != DeviceApproved || d.Expires < a.cmd.Time {
		return nil, Errf(CodeNotFound, "no approved device grant for this code (used, expired or never approved)")
	}
	if a.cmd.Actor != "" && a.cmd.Actor != d.Account {
		return nil, Errf(CodeDenied, "a device grant is consumed only for the account that approved it")
	}
	if err := a.tx.Bucket(bOAuth2Device).Delete([]byte(b.Hash)); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	// The expiry index entry stays; pruning a missing record is a no-op.
	return d, nil
}

// pruneOAuth2 forgets an expired refresh family or device grant.
func (a *applyCtx) pruneOAuth2(kind byte, id string) *ApplyError {
	switch kind {
	case kindOAuth2Refresh:
		if err := a.tx.Bucket(bOAuth2Refresh).Delete([]byte(id)); err != nil {
			return Errf(CodeInvalid, "%v", err)
		}
	case kindOAuth2Device:
		var d OAuth2Device
		if ok, _ := getJSON(a.tx.Bucket(bOAuth2Device), id, &d); ok {
			uc := a.tx.Bucket(bOAuth2UserCodes)
			if string(uc.Get([]byte(d.UserCode))) == id {
				if err := uc.Delete([]byte(d.UserCode)); err != nil {
					return Errf(CodeInvalid, "%v", err)
				}
			}
		}
		if err := a.tx.Bucket(bOAuth2Device).Delete([]byte(id)); err != nil {
			return Errf(CodeInvalid, "%v", err)
		}
	}
	return nil
}
