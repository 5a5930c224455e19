package sso

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/cluster"
	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/google/uuid"
)

// Service manages providers, settings, overrides and linked identities.
type Service struct {
	// IDM is the identity service: its State, Prop, Now, Log and Audit are
	// used, and its rights checks.
	IDM    *idm.Service
	Sealer *seal.Sealer
	// Issuer is the public URL of the cluster; callback, ACS and metadata
	// URLs are made from it.
	Issuer string
	// HTTPClient reaches providers for Test; nil: http.DefaultClient.
	HTTPClient *http.Client
}

// New returns the SSO service over an identity service.
func New(svc *idm.Service, sealer *seal.Sealer, issuer string) *Service {
	return &Service{IDM: svc, Sealer: sealer, Issuer: strings.TrimRight(issuer, "/")}
}

func (s *Service) state() *fsm.FSM { return s.IDM.State }

func (s *Service) now() time.Time {
	if s.IDM.Now != nil {
		return s.IDM.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.IDM.Log != nil {
		return s.IDM.Log
	}
	return slog.Default()
}

// casRetries bounds how often a write is recomputed after a concurrent one.
const casRetries = 5

// propose puts one command into the log as actor and waits until this node
// has applied it, mapping a refusal to a user error (as idm does).
func (s *Service) propose(ctx context.Context, actor idm.Actor, typ string, body any, target string) (fsm.Result, error) {
	cmd, err := fsm.NewCommand(typ, 1, uuid.Must(uuid.NewV7()).String(), s.now().UnixMilli(), body)
	if err != nil {
		return fsm.Result{}, err
	}
	cmd.Actor = actor.UUID
	res, err := s.IDM.Prop.Apply(ctx, cmd)
	if err != nil {
		s.log().Warn("write not committed", "command", typ, "error", err)
		if errors.Is(err, cluster.ErrNoLeader) {
			return res, idm.AsError(err)
		}
		return res, idm.Unavailable("the change could not be confirmed by the cluster (%v); it is safe to retry", err)
	}
	if res.Err != nil {
		return res, fromApply(res.Err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.state().WaitApplied(wctx, res.Index); err != nil {
		s.log().Warn("write committed but not yet applied here", "index", res.Index, "error", err)
	}
	if s.IDM.Audit != nil {
		name := actor.Name
		if name == "" {
			name = "system"
		}
		s.IDM.Audit.Change(name, typ, target, res.Index)
	}
	return res, nil
}

func fromApply(e *fsm.ApplyError) *idm.Error {
	switch e.Code {
	case fsm.CodeNotFound:
		return idm.NotFound("%s", e.Message)
	case fsm.CodeConflict:
		return idm.Conflict("%s", e.Message)
	case fsm.CodeDenied:
		return idm.Forbidden("%s", e.Message)
	}
	return idm.Invalid("%s", e.Message)
}

// isConcurrent reports a compare-and-set conflict worth recomputing.
func isConcurrent(err error) bool {
	var e *idm.Error
	return errors.As(err, &e) && e.Code == "conflict" && strings.Contains(e.Msg, "changed concurrently")
}

func (s *Service) maySystem(actor idm.Actor) error {
	if actor == idm.System || s.IDM.IsSystemAdmin(actor) {
		return nil
	}
	return idm.Forbidden("%s may not manage single sign-on: that needs membership of system_admins", actor.Name)
}

func (s *Service) mayReadAdmin(actor idm.Actor) error {
	if actor == idm.System || s.IDM.IsIDMAdmin(actor) {
		return nil
	}
	return idm.Forbidden("%s may not read the single sign-on configuration: that needs membership of idm_admins or system_admins", actor.Name)
}

// --- URLs served by the login (protocols/sso) ------------------------------

// CallbackURL is where an OIDC or OAuth2 provider sends the browser back.
func (s *Service) CallbackURL(p *entry.SSOProvider) string {
	return s.Issuer + "/ui/sso/callback/" + p.UUID
}

// ACSURL is the SAML assertion consumer service of a provider.
func (s *Service) ACSURL(p *entry.SSOProvider) string {
	return s.Issuer + "/ui/sso/saml/" + p.UUID + "/acs"
}

// MetadataURL is the public SP metadata of a SAML provider.
func (s *Service) MetadataURL(p *entry.SSOProvider) string {
	return s.Issuer + "/ui/sso/saml/" + p.UUID + "/metadata"
}

// --- Settings -------------------------------------------------------------

// Settings returns the global settings (zero value: the defaults).
func (s *Service) Settings() entry.SSOSettings { return s.state().SSOSettings() }

// SettingsInput changes the global settings; nil leaves a value as it is.
type SettingsInput struct {
	LocalAuth  *bool `json:"local_auth"`
	AutoCreate *bool `json:"auto_create"`
	AutoEnable *bool `json:"auto_enable"`
}

// Warning is shown whenever local authentication is being turned off.
const WarningLocalAuth = "Ensure at least one admin has SSO access before disabling"

// SetSettings changes the global settings (system_admins). Turning local
// authentication off is refused while no administrator could still log in.
func (s *Service) SetSettings(ctx context.Context, actor idm.Actor, in SettingsInput) (entry.SSOSettings, uint64, error) {
	if err := s.maySystem(actor); err != nil {
		return entry.SSOSettings{}, 0, err
	}
	for attempt := 0; ; attempt++ {
		cur := s.state().StoredSSOSettings()
		next := cur.SSOSettings
		if in.LocalAuth != nil {
			next.LocalAuthDisabled = !*in.LocalAuth
		}
		if in.AutoCreate != nil {
			next.NoAutoCreate = !*in.AutoCreate
		}
		if in.AutoEnable != nil {
			next.AutoEnable = *in.AutoEnable
		}
		if next.LocalAuthDisabled && !cur.LocalAuthDisabled && !s.someAdminCanLogIn(nil, "") {
			return cur.SSOSettings, 0, idm.Conflict("local authentication cannot be disabled: no member of system_admins or idm_admins "+
				"could still log in (one needs a linked identity at an enabled provider and SSO not turned off for them, or the "+
				"local-auth override on). %s", WarningLocalAuth)
		}
		res, err := s.propose(ctx, actor, fsm.TypeSSOSettings, fsm.SSOSettingsSet{Settings: next, ExpectedVersion: cur.Version}, "sso settings")
		if err != nil {
			if isConcurrent(err) && attempt < casRetries {
				continue
			}
			return cur.SSOSettings, 0, err
		}
		return next, res.Index, nil
	}
}

// someAdminCanLogIn is the early answer of the state machine's lock-out
// rule, with changed standing in for its stored entry and without a
// provider treated as gone.
func (s *Service) someAdminCanLogIn(changed *entry.Entry, without string) bool {
	enabled := map[string]bool{}
	for _, p := range s.state().SSOProviders() {
		if p.Enabled && p.UUID != without {
			enabled[p.UUID] = true
		}
	}
	seen := map[string]bool{}
	for _, g := range []string{entry.UUIDSystemAdmins, entry.UUIDIDMAdmins} {
		for _, e := range s.state().Entries("") {
			if seen[e.UUID] || e.Class == entry.Group || !s.state().IsMemberOf(e.UUID, g) {
				continue
			}
			seen[e.UUID] = true
			if changed != nil && changed.UUID == e.UUID {
				e = changed
			}
			if fsm.AdminCanLogIn(e, enabled) {
				return true
			}
		}
	}
	return false
}

// --- Per-user decisions ---------------------------------------------------

// LocalAllowed decides whether acct may log in with its own credentials
// (password, TOTP, passkeys): its local-auth override when set, else the
// global switch. It is the auth engine's LocalAllowed hook.
func (s *Service) LocalAllowed(acct *entry.Entry) bool {
	if o := acct.AuthOverrides; o != nil && o.LocalAuth != nil {
		return *o.LocalAuth
	}
	return !s.Settings().LocalAuthDisabled
}

// SSOAllowed decides whether acct may log in through upstream providers:
// its SSO override when set, else yes.
func (s *Service) SSOAllowed(acct *entry.Entry) bool {
	if o := acct.AuthOverrides; o != nil && o.SSOAuth != nil {
		return *o.SSOAuth
	}
	return true
}

// Override is a tri-state in requests: true or false forces, "default"
// (or null) follows the global setting; an absent field changes nothing.
type Override struct {
	Set   bool
	Value *bool
}

// UnmarshalJSON takes true, false, "true", "false", "on", "off",
// "default" or null.
func (o *Override) UnmarshalJSON(b []byte) error {
	v, err := ParseOverride(strings.Trim(string(b), `"`))
	if err != nil {
		return err
	}
	o.Set, o.Value = true, v
	return nil
}

// MarshalJSON writes true, false or "default".
func (o Override) MarshalJSON() ([]byte, error) {
	if o.Value == nil {
		return []byte(`"default"`), nil
	}
	return fmt.Appendf(nil, "%t", *o.Value), nil
}

// ParseOverride reads on/true, off/false, default/null/"".
func ParseOverride(v string) (*bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "on", "yes":
		t := true
		return &t, nil
	case "false", "off", "no":
		f := false
		return &f, nil
	case "default", "null", "":
		return nil, nil
	}
	return nil, idm.Invalid("%q is not an override: use true (on), false (off) or default", v)
}

// OverridesInput changes a user's overrides.
type OverridesInput struct {
	LocalAuth Override `json:"local_auth"`
	SSO       Override `json:"sso"`
	Note      *string  `json:"note"`
}

// SetOverrides changes an account's per-user overrides (idm_admins; an
// account with system rights only by system_admins).
func (s *Service) SetOverrides(ctx context.Context, actor idm.Actor, account string, in OverridesInput) (*entry.Entry, uint64, error) {
	if !in.LocalAuth.Set && !in.SSO.Set && in.Note == nil {
		return nil, 0, idm.Invalid("nothing to change: give local_auth, sso or note")
	}
	return s.updateAccount(ctx, actor, account, false, func(e *entry.Entry) error {
		o := entry.AuthOverrides{}
		if e.AuthOverrides != nil {
			o = *e.AuthOverrides
		}
		if in.LocalAuth.Set {
			o.LocalAuth = in.LocalAuth.Value
		}
		if in.SSO.Set {
			o.SSOAuth = in.SSO.Value
		}
		if in.Note != nil {
			o.Note = *in.Note
		}
		if o.LocalAuth == nil && o.SSOAuth == nil && o.Note == "" {
			e.AuthOverrides = nil
		} else {
			e.AuthOverrides = &o
		}
		return nil
	})
}

// updateAccount reads an account, lets change modify a copy, checks the
// lock-out rule, and proposes it with compare-and-set (bounded retries).
// self allows the account itself (unlinking its own identities); the
// command then goes out as the cluster, after the checks made here.
func (s *Service) updateAccount(ctx context.Context, actor idm.Actor, account string, self bool, change func(*entry.Entry) error) (*entry.Entry, uint64, error) {
	for attempt := 0; ; attempt++ {
		old, ok := s.IDM.Lookup(account)
		if !ok || (old.Class != entry.Person && old.Class != entry.ServiceAccount) {
			return nil, 0, idm.NotFound("no person named %q", account)
		}
		as := actor
		if self && actor.UUID == old.UUID {
			as = idm.System
		} else if err := s.mayChangeAccount(actor, old); err != nil {
			return nil, 0, err
		}
		e := old.Clone()
		if err := change(e); err != nil {
			return nil, 0, err
		}
		e.Updated = s.now().UnixMilli()
		if err := e.Validate(); err != nil {
			return nil, 0, idm.Invalid("%v", err)
		}
		if s.Settings().LocalAuthDisabled && s.someAdminCanLogIn(old, "") && !s.someAdminCanLogIn(e, "") {
			return nil, 0, idm.Conflict("local authentication is off and this change would leave no member of system_admins or idm_admins able to log in")
		}
		res, err := s.propose(ctx, as, fsm.TypeEntryUpdate, fsm.EntryUpdate{Entry: e, ExpectedVersion: old.Version}, e.Name)
		if err != nil {
			if isConcurrent(err) && attempt < casRetries {
				continue
			}
			return nil, 0, err
		}
		cur, _ := s.state().Entry(e.UUID)
		if cur == nil {
			cur = e
		}
		return cur, res.Index, nil
	}
}

// mayChangeAccount: idm_admins change accounts, except those with system
// rights, which only system_admins change (docs/access-control.md).
func (s *Service) mayChangeAccount(actor idm.Actor, target *entry.Entry) error {
	if actor == idm.System || s.IDM.IsSystemAdmin(actor) {
		return nil
	}
	if !s.IDM.IsIDMAdmin(actor) {
		return idm.Forbidden("%s may not change %s: that needs membership of idm_admins", actor.Name, target.Name)
	}
	if target.Builtin || s.state().IsMemberOf(target.UUID, entry.UUIDSystemAdmins) {
		return idm.Forbidden("%s holds system_admins rights: only system_admins may change it", target.Name)
	}
	return nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
