package fsm

import (
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// The read side. Every method answers from the in-memory cache and returns
// copies, so callers may modify what they get.

// System returns the cluster settings; Domain is empty before system.init.
func (f *FSM) System() System {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.system
}

// Initialized reports whether system.init has been applied.
func (f *FSM) Initialized() bool { return f.System().Domain != "" }

// Entry finds an entry by uuid or name.
func (f *FSM) Entry(id string) (*entry.Entry, bool) {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.byUUID[id]
	if !ok {
		if u, found := c.byName[id]; found {
			e, ok = c.byUUID[u]
		}
	}
	if !ok {
		return nil, false
	}
	return e.Clone(), true
}

// Entries lists the entries of one class ("" for all), sorted by name.
func (f *FSM) Entries(class entry.Class) []*entry.Entry {
	c := f.state.Load()
	c.mu.RLock()
	out := make([]*entry.Entry, 0, len(c.byUUID))
	for _, e := range c.byUUID {
		if class == "" || e.Class == class {
			out = append(out, e.Clone())
		}
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CountByClass counts entries per class (for metrics).
func (f *FSM) CountByClass() map[string]int {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := map[string]int{}
	for _, e := range c.byUUID {
		out[string(e.Class)]++
	}
	return out
}

// MemberOf returns the uuids of every group id is in, directly or through
// nested groups.
func (f *FSM) MemberOf(id string) []string {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.memberOf(id)
}

// GroupPolicies returns every group id is in (directly or nested) with
// that group's account policy (nil where it has none), under one read lock
// and without copying the groups: policy resolution runs on every login.
func (f *FSM) GroupPolicies(id string) (groups []string, policies []*entry.Policy) {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	groups = c.memberOf(id)
	policies = make([]*entry.Policy, len(groups))
	for i, g := range groups {
		if e, ok := c.byUUID[g]; ok {
			policies[i] = e.Policy.Clone()
		}
	}
	return groups, policies
}

// IsMemberOf reports whether id is in group, directly or nested.
func (f *FSM) IsMemberOf(id, group string) bool {
	_, found := slices.BinarySearch(f.MemberOf(id), group)
	return found
}

// NameOf maps a uuid to its entry's name ("" if gone).
func (f *FSM) NameOf(id string) string {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e, ok := c.byUUID[id]; ok {
		return e.Name
	}
	return ""
}

// DeniedNames lists the denied names, sorted.
func (f *FSM) DeniedNames() []string {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.denied))
	for n := range c.denied {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// IsDenied reports whether name is on the denied list.
func (f *FSM) IsDenied(name string) bool {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.denied[name]
}

// SigningKeys returns the token-signing keys, oldest first.
func (f *FSM) SigningKeys() []SigningKey {
	c := f.state.Load()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.keys)
}

// StoreSize is the size in bytes of the state file's data (for metrics).
func (f *FSM) StoreSize() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var n int64
	if f.db != nil {
		f.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	}
	return n
}
