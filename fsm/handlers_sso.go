package fsm

import (
	"bytes"
	"slices"
	"strings"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Upstream SSO: provider records (sso_providers) and the global settings
// (sso_settings). Only system_admins change them. Provider secrets arrive
// sealed (idm/sso seals them with entry.SSOSecretAAD before proposing).

// SSOProviderPut is the body of sso.provider.put v1: the whole provider.
// ExpectedVersion 0 creates (the uuid must be new); otherwise it is the
// version the update was computed from (compare-and-set).
type SSOProviderPut struct {
	Provider        *entry.SSOProvider `json:"provider"`
	ExpectedVersion uint64             `json:"expected_version"`
}

// SSOProviderDelete is the body of sso.provider.delete v1. While accounts
// still link identities at the provider the delete is refused, unless
// Unlink asks to remove those links (from every account, in uuid order).
type SSOProviderDelete struct {
	UUID            string `json:"uuid"`
	ExpectedVersion uint64 `json:"expected_version,omitempty"`
	Unlink          bool   `json:"unlink,omitempty"`
}

// SSOSettingsSet is the body of sso.settings v1: the whole global settings
// record, with the version it was computed from (0 when none was stored).
type SSOSettingsSet struct {
	Settings        entry.SSOSettings `json:"settings"`
	ExpectedVersion uint64            `json:"expected_version,omitempty"`
}

// StoredSSOSettings is the global settings record as stored: the settings
// and the index of their last write.
type StoredSSOSettings struct {
	entry.SSOSettings
	Version uint64 `json:"version"`
	Updated int64  `json:"updated,omitempty"`
}

var kSSOGlobal = []byte("global")

// Refusal texts shared with idm/sso (which checks first, for an early
// answer).
const (
	msgNoAdminCanLogIn = "local authentication cannot be disabled: no member of system_admins or idm_admins could still log in " +
		"(one needs a linked identity at an enabled provider and SSO not turned off for them, or the local-auth override on). " +
		"Ensure at least one admin has SSO access before disabling"
)

func (a *applyCtx) ssoProvider(id string) (*entry.SSOProvider, *ApplyError) {
	var p entry.SSOProvider
	ok, err := getJSON(a.tx.Bucket(bSSOProviders), id, &p)
	if err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	if !ok {
		return nil, nil
	}
	return &p, nil
}

// ssoProviders lists every stored provider in uuid order.
func (a *applyCtx) ssoProviders() ([]*entry.SSOProvider, *ApplyError) {
	var out []*entry.SSOProvider
	var bad *ApplyError
	a.tx.Bucket(bSSOProviders).ForEach(func(k, v []byte) error {
		p, err := a.ssoProvider(string(k))
		if err != nil {
			bad = err
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, bad
}

func (a *applyCtx) ssoSettings() (StoredSSOSettings, *ApplyError) {
	var s StoredSSOSettings
	if _, err := getJSON(a.tx.Bucket(bSSOSettings), string(kSSOGlobal), &s); err != nil {
		return s, Errf(CodeInvalid, "%v", err)
	}
	return s, nil
}

func applySSOProviderPut(a *applyCtx) (any, *ApplyError) {
	if err := a.maySystem(); err != nil {
		return nil, err
	}
	var b SSOProviderPut
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	p := b.Provider
	if p == nil {
		return nil, Errf(CodeInvalid, "no provider")
	}
	if err := p.Validate(); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	old, aerr := a.ssoProvider(p.UUID)
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case b.ExpectedVersion == 0 && old != nil:
		return nil, Errf(CodeConflict, "a provider with uuid %s already exists", p.UUID)
	case b.ExpectedVersion != 0 && old == nil:
		return nil, Errf(CodeNotFound, "no provider with uuid %s", p.UUID)
	case old != nil && old.Version != b.ExpectedVersion:
		return nil, Errf(CodeConflict, "provider %s changed concurrently (version %d, expected %d)", old.Name, old.Version, b.ExpectedVersion)
	case old != nil && old.Type != p.Type:
		return nil, Errf(CodeInvalid, "the type of a provider cannot change (it is %s); create a new provider", old.Type)
	}
	all, aerr := a.ssoProviders()
	if aerr != nil {
		return nil, aerr
	}
	for _, o := range all {
		if o.UUID != p.UUID && strings.EqualFold(o.Name, p.Name) {
			return nil, Errf(CodeConflict, "a provider named %q already exists", o.Name)
		}
	}
	if old != nil {
		p.Created = old.Created
	}
	p.Version = a.index
	// Turning a provider off must not lock every administrator out while
	// local authentication is off.
	if old != nil && old.Enabled && !p.Enabled {
		if err := a.checkAdminsCanLogIn(p.UUID, false); err != nil {
			return nil, err
		}
	}
	if err := putJSON(a.tx.Bucket(bSSOProviders), p.UUID, p); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return p, nil
}

func applySSOProviderDelete(a *applyCtx) (any, *ApplyError) {
	if err := a.maySystem(); err != nil {
		return nil, err
	}
	var b SSOProviderDelete
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	old, aerr := a.ssoProvider(b.UUID)
	if aerr != nil {
		return nil, aerr
	}
	if old == nil {
		return nil, Errf(CodeNotFound, "no provider with uuid %s", b.UUID)
	}
	if b.ExpectedVersion != 0 && old.Version != b.ExpectedVersion {
		return nil, Errf(CodeConflict, "provider %s changed concurrently (version %d, expected %d)", old.Name, old.Version, b.ExpectedVersion)
	}
	linked := a.linkedAccounts(old.UUID)
	if len(linked) > 0 && !b.Unlink {
		return nil, Errf(CodeConflict, "%d account(s) still link an identity at provider %s; unlink them first, or delete with unlink", len(linked), old.Name)
	}
	if err := a.checkAdminsCanLogIn(old.UUID, false); err != nil {
		return nil, err
	}
	// Validate, then write: every read above, every write below.
	for _, id := range linked {
		e, aerr := a.getEntry(id)
		if aerr != nil {
			return nil, aerr
		}
		if e == nil {
			continue
		}
		before := e.Clone()
		e.ExternalIDs = slices.DeleteFunc(e.ExternalIDs, func(x entry.ExternalID) bool { return x.Provider == old.UUID })
		if len(e.ExternalIDs) == 0 {
			e.ExternalIDs = nil
		}
		e.Updated = a.cmd.Time
		if aerr := a.putEntry(e, before); aerr != nil {
			return nil, aerr
		}
	}
	if err := a.tx.Bucket(bSSOProviders).Delete([]byte(old.UUID)); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return struct {
		Unlinked int `json:"unlinked"`
	}{len(linked)}, nil
}

// linkedAccounts lists, sorted and unique, the accounts that link an
// identity at provider (from the external_ids index, whose keys start with
// "provider|").
func (a *applyCtx) linkedAccounts(provider string) []string {
	var out []string
	prefix := []byte(entry.ExternalKey(provider, ""))
	c := a.tx.Bucket(bExternalIDs).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		out = append(out, string(v))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func applySSOSettings(a *applyCtx) (any, *ApplyError) {
	if err := a.maySystem(); err != nil {
		return nil, err
	}
	var b SSOSettingsSet
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	old, aerr := a.ssoSettings()
	if aerr != nil {
		return nil, aerr
	}
	if b.ExpectedVersion != 0 && old.Version != b.ExpectedVersion {
		return nil, Errf(CodeConflict, "the SSO settings changed concurrently (version %d, expected %d)", old.Version, b.ExpectedVersion)
	}
	if b.Settings.LocalAuthDisabled {
		if err := a.checkAdminsCanLogIn("", true); err != nil {
			return nil, err
		}
	}
	s := StoredSSOSettings{SSOSettings: b.Settings, Version: a.index, Updated: a.cmd.Time}
	if err := putJSON(a.tx.Bucket(bSSOSettings), string(kSSOGlobal), s); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return s, nil
}

// checkAdminsCanLogIn refuses a change after which no administrator could
// log in. It applies only while local authentication is off (or about to
// be: localOff). without names a provider about to be disabled or deleted.
func (a *applyCtx) checkAdminsCanLogIn(without string, localOff bool) *ApplyError {
	if !localOff {
		s, aerr := a.ssoSettings()
		if aerr != nil {
			return aerr
		}
		if !s.LocalAuthDisabled {
			return nil
		}
	}
	providers, aerr := a.ssoProviders()
	if aerr != nil {
		return aerr
	}
	enabled := map[string]bool{}
	for _, p := range providers {
		if p.Enabled && p.UUID != without {
			enabled[p.UUID] = true
		}
	}
	admins, aerr := a.adminAccounts()
	if aerr != nil {
		return aerr
	}
	for _, e := range admins {
		if AdminCanLogIn(e, enabled) {
			return nil
		}
	}
	if without != "" {
		return Errf(CodeConflict, "local authentication is off and this change would leave no member of system_admins or idm_admins "+
			"able to log in (none links an identity at another enabled provider, none has the local-auth override on)")
	}
	return Errf(CodeConflict, "%s", msgNoAdminCanLogIn)
}

// AdminCanLogIn reports whether account e could still log in with local
// authentication off: it is enabled and either has the local-auth override
// on, or links an identity at one of the enabled providers without SSO
// turned off for it. idm/sso uses the same rule for its early answer.
func AdminCanLogIn(e *entry.Entry, enabledProviders map[string]bool) bool {
	if e.Disabled || (e.Class != entry.Person && e.Class != entry.ServiceAccount) {
		return false
	}
	o := e.AuthOverrides
	if o != nil && o.LocalAuth != nil && *o.LocalAuth {
		return true
	}
	if o != nil && o.SSOAuth != nil && !*o.SSOAuth {
		return false
	}
	for _, x := range e.ExternalIDs {
		if enabledProviders[x.Provider] {
			return true
		}
	}
	return false
}

// adminAccounts lists the accounts inside system_admins or idm_admins,
// directly or through nested groups, in uuid order. It walks the stored
// members (not the cache, which lags inside a batch).
func (a *applyCtx) adminAccounts() ([]*entry.Entry, *ApplyError) {
	seen := map[string]bool{}
	queue := []string{entry.UUIDSystemAdmins, entry.UUIDIDMAdmins}
	var accounts []string
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		e, aerr := a.getEntry(id)
		if aerr != nil {
			return nil, aerr
		}
		if e == nil {
			continue
		}
		if e.Class == entry.Group {
			queue = append(queue, e.Members...)
			if e.UUID == entry.UUIDIDMAllPersons {
				// Every person is implicitly in idm_all_persons.
				persons, aerr := a.allPersons()
				if aerr != nil {
					return nil, aerr
				}
				queue = append(queue, persons...)
			}
			continue
		}
		accounts = append(accounts, id)
	}
	slices.Sort(accounts)
	out := make([]*entry.Entry, 0, len(accounts))
	for _, id := range accounts {
		e, aerr := a.getEntry(id)
		if aerr != nil {
			return nil, aerr
		}
		out = append(out, e)
	}
	return out, nil
}

func (a *applyCtx) allPersons() ([]string, *ApplyError) {
	var out []string
	err := a.tx.Bucket(bEntries).ForEach(func(k, v []byte) error {
		// A cheap filter before decoding: the class is a JSON field.
		if bytes.Contains(v, []byte(`"class":"person"`)) {
			out = append(out, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	return out, nil
}
