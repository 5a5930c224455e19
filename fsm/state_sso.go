package fsm

import (
	"encoding/json"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// The read side of upstream SSO. Providers are few and read on logins and
// admin pages only, so they are read from the store (a bbolt read
// transaction) rather than cached; every call returns fresh copies.

// SSOProviders lists every provider, sorted by name.
func (f *FSM) SSOProviders() []*entry.SSOProvider {
	var out []*entry.SSOProvider
	f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bSSOProviders).ForEach(func(_, v []byte) error {
			var p entry.SSOProvider
			if json.Unmarshal(v, &p) == nil {
				out = append(out, &p)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(x, y *entry.SSOProvider) int {
		if c := strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)); c != 0 {
			return c
		}
		return strings.Compare(x.UUID, y.UUID)
	})
	return out
}

// SSOProvider finds a provider by uuid.
func (f *FSM) SSOProvider(id string) (*entry.SSOProvider, bool) {
	p, ok := record[entry.SSOProvider](f, bSSOProviders, id)
	if !ok {
		return nil, false
	}
	return &p, true
}

// SSOProviderByName finds a provider by name (names are unique without
// regard to case).
func (f *FSM) SSOProviderByName(name string) (*entry.SSOProvider, bool) {
	for _, p := range f.SSOProviders() {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return nil, false
}

// SSOSettings returns the global SSO settings (the zero value, which is
// the default, until they are first set).
func (f *FSM) SSOSettings() entry.SSOSettings {
	return f.StoredSSOSettings().SSOSettings
}

// StoredSSOSettings returns the global SSO settings with their version
// (0 before the first write), for compare-and-set updates.
func (f *FSM) StoredSSOSettings() StoredSSOSettings {
	var s StoredSSOSettings
	f.view(func(tx *bolt.Tx) error {
		_, _ = getJSON(tx.Bucket(bSSOSettings), string(kSSOGlobal), &s)
		return nil
	})
	return s
}
