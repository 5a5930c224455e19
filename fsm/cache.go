package fsm

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	bolt "go.etcd.io/bbolt"
)

// cache holds the store's contents decoded, with the indexes reads need:
// by uuid, by name, and each entry's direct parent groups (for memberof).
// It is rebuilt from state.db on open and restore and updated after every
// committed batch.
type cache struct {
	mu          sync.RWMutex
	byUUID      map[string]*entry.Entry
	byName      map[string]string
	parents     map[string][]string // member uuid -> groups that list it directly
	denied      map[string]bool
	system      System
	keys        []SigningKey
	revoked     map[string]bool   // session ids revoked and not yet expired
	byPrincipal map[string]string // Kerberos principal -> uuid
	byExternal  map[string]string // entry.ExternalKey -> uuid
}

func newCache() *cache {
	return &cache{byUUID: map[string]*entry.Entry{}, byName: map[string]string{},
		parents: map[string][]string{}, denied: map[string]bool{}, revoked: map[string]bool{},
		byPrincipal: map[string]string{}, byExternal: map[string]string{}}
}

func (c *cache) load(tx *bolt.Tx) error {
	if _, err := getJSON(tx.Bucket(bMeta), string(kSystem), &c.system); err != nil {
		return err
	}
	err := tx.Bucket(bEntries).ForEach(func(k, v []byte) error {
		var e entry.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode entry %s: %w", k, err)
		}
		c.put(&e)
		return nil
	})
	if err != nil {
		return err
	}
	if err := tx.Bucket(bDenied).ForEach(func(k, _ []byte) error { c.denied[string(k)] = true; return nil }); err != nil {
		return err
	}
	if err := tx.Bucket(bRevoked).ForEach(func(k, _ []byte) error { c.revoked[string(k)] = true; return nil }); err != nil {
		return err
	}
	err = tx.Bucket(bKeys).ForEach(func(k, v []byte) error {
		var key SigningKey
		if err := json.Unmarshal(v, &key); err != nil {
			return fmt.Errorf("decode key %s: %w", k, err)
		}
		c.keys = append(c.keys, key)
		return nil
	})
	// The store lists keys by kid; the cache lists them as the log added
	// them (creation order), like a node that never restarted.
	slices.SortStableFunc(c.keys, func(a, b SigningKey) int {
		if a.Created != b.Created {
			return cmp.Compare(a.Created, b.Created)
		}
		if a.Added != b.Added {
			return cmp.Compare(a.Added, b.Added)
		}
		return strings.Compare(a.KID, b.KID)
	})
	return err
}

func (c *cache) put(e *entry.Entry) {
	if old, ok := c.byUUID[e.UUID]; ok {
		if old.Name != e.Name {
			delete(c.byName, old.Name)
		}
		c.unlinkMembers(old)
		for _, p := range old.KerberosPrincipals {
			delete(c.byPrincipal, p)
		}
		for _, x := range old.ExternalIDs {
			delete(c.byExternal, entry.ExternalKey(x.Provider, x.Subject))
		}
	}
	c.byUUID[e.UUID] = e
	for _, x := range e.ExternalIDs {
		c.byExternal[entry.ExternalKey(x.Provider, x.Subject)] = e.UUID
	}
	c.byName[e.Name] = e.UUID
	for _, p := range e.KerberosPrincipals {
		c.byPrincipal[p] = e.UUID
	}
	for _, m := range e.Members {
		c.parents[m] = append(c.parents[m], e.UUID)
	}
}

func (c *cache) unlinkMembers(g *entry.Entry) {
	for _, m := range g.Members {
		ps := slices.DeleteFunc(c.parents[m], func(p string) bool { return p == g.UUID })
		if len(ps) == 0 {
			delete(c.parents, m)
		} else {
			c.parents[m] = ps
		}
	}
}

func (c *cache) remove(id string) {
	old, ok := c.byUUID[id]
	if !ok {
		return
	}
	c.unlinkMembers(old)
	for _, p := range old.KerberosPrincipals {
		delete(c.byPrincipal, p)
	}
	for _, x := range old.ExternalIDs {
		delete(c.byExternal, entry.ExternalKey(x.Provider, x.Subject))
	}
	delete(c.byUUID, id)
	delete(c.byName, old.Name)
}

// memberOf walks parent groups breadth-first; the visited set makes cycles
// (a in b, b in a) harmless. Every person is implicitly in idm_all_persons.
func (c *cache) memberOf(id string) []string {
	seen := map[string]bool{}
	queue := slices.Clone(c.parents[id])
	if e, ok := c.byUUID[id]; ok && e.Class == entry.Person {
		queue = append(queue, entry.UUIDIDMAllPersons)
	}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		if seen[g] || g == id {
			continue
		}
		seen[g] = true
		queue = append(queue, c.parents[g]...)
	}
	out := make([]string, 0, len(seen))
	for g := range seen {
		if _, ok := c.byUUID[g]; ok {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}
