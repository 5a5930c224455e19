package fsm

import (
	"slices"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// EntryCreate is the body of entry.create v1.
type EntryCreate struct {
	Entry *entry.Entry `json:"entry"`
}

// EntryUpdate is the body of entry.update v1: the whole new entry, computed
// by the proposer from the version it read (compare-and-set).
type EntryUpdate struct {
	Entry           *entry.Entry `json:"entry"`
	ExpectedVersion uint64       `json:"expected_version"`
}

// EntryDelete is the body of entry.delete v1.
type EntryDelete struct {
	UUID            string `json:"uuid"`
	ExpectedVersion uint64 `json:"expected_version"`
}

func (a *applyCtx) getEntry(id string) (*entry.Entry, *ApplyError) {
	var e entry.Entry
	ok, err := getJSON(a.tx.Bucket(bEntries), id, &e)
	if err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	if !ok {
		return nil, nil
	}
	return &e, nil
}

func (a *applyCtx) nameOwner(name string) string {
	return string(a.tx.Bucket(bNames).Get([]byte(name)))
}

func (a *applyCtx) denied(name string) bool {
	return a.tx.Bucket(bDenied).Get([]byte(name)) != nil
}

// checkEntry holds the rules shared by create and update.
func (a *applyCtx) checkEntry(e *entry.Entry, oldName string) *ApplyError {
	if err := e.Validate(); err != nil {
		return Errf(CodeInvalid, "%v", err)
	}
	if e.Name != oldName {
		if owner := a.nameOwner(e.Name); owner != "" && owner != e.UUID {
			return Errf(CodeConflict, "the name %q is already taken", e.Name)
		}
		if a.denied(e.Name) {
			return Errf(CodeInvalid, "the name %q is on the denied names list", e.Name)
		}
	}
	for _, p := range e.KerberosPrincipals {
		if owner := string(a.tx.Bucket(bPrincipals).Get([]byte(p))); owner != "" && owner != e.UUID {
			return Errf(CodeConflict, "the Kerberos principal %q belongs to another account", p)
		}
	}
	for _, x := range e.ExternalIDs {
		k := entry.ExternalKey(x.Provider, x.Subject)
		if owner := string(a.tx.Bucket(bExternalIDs).Get([]byte(k))); owner != "" && owner != e.UUID {
			return Errf(CodeConflict, "the upstream identity %s is linked to another account", k)
		}
	}
	if !slices.IsSorted(e.Members) || len(slices.Compact(slices.Clone(e.Members))) != len(e.Members) {
		return Errf(CodeInvalid, "members must be sorted and unique")
	}
	for _, m := range e.Members {
		if m == e.UUID {
			return Errf(CodeInvalid, "a group cannot be a member of itself")
		}
		if a.tx.Bucket(bEntries).Get([]byte(m)) == nil {
			return Errf(CodeNotFound, "member %s does not exist", m)
		}
	}
	return nil
}

// putEntry stores e, which replaces old (nil for a new entry), and keeps
// the name and parent-group indexes in step.
func (a *applyCtx) putEntry(e, old *entry.Entry) *ApplyError {
	oldName := ""
	var oldMembers, oldPrincipals []string
	if old != nil {
		oldName, oldMembers, oldPrincipals = old.Name, old.Members, old.KerberosPrincipals
	}
	if err := a.reindex(bPrincipals, e.UUID, oldPrincipals, e.KerberosPrincipals); err != nil {
		return err
	}
	var oldExternal []string
	if old != nil {
		oldExternal = externalKeys(old)
	}
	if err := a.reindex(bExternalIDs, e.UUID, oldExternal, externalKeys(e)); err != nil {
		return err
	}
	if err := a.relink(e.UUID, oldMembers, e.Members); err != nil {
		return err
	}
	e.Version = a.index
	if err := putJSON(a.tx.Bucket(bEntries), e.UUID, e); err != nil {
		return Errf(CodeInvalid, "%v", err)
	}
	if oldName != "" && oldName != e.Name {
		if err := a.tx.Bucket(bNames).Delete([]byte(oldName)); err != nil {
			return Errf(CodeInvalid, "%v", err)
		}
	}
	if err := a.tx.Bucket(bNames).Put([]byte(e.Name), []byte(e.UUID)); err != nil {
		return Errf(CodeInvalid, "%v", err)
	}
	if e.Class == entry.Group {
		if err := a.tx.Bucket(bGroups).Put([]byte(e.UUID), present); err != nil {
			return Errf(CodeInvalid, "%v", err)
		}
	}
	stored := e.Clone()
	a.after(func(c *cache) { c.put(stored) })
	return nil
}

func applyEntryCreate(a *applyCtx) (any, *ApplyError) {
	var b EntryCreate
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	e := b.Entry
	if e == nil {
		return nil, Errf(CodeInvalid, "no entry")
	}
	if e.Builtin {
		return nil, Errf(CodeInvalid, "built-in entries are made only at initialisation")
	}
	if err := a.mayWriteEntry(e); err != nil {
		return nil, err
	}
	if old, err := a.getEntry(e.UUID); err != nil || old != nil {
		if err != nil {
			return nil, err
		}
		return nil, Errf(CodeConflict, "an entry with uuid %s already exists", e.UUID)
	}
	if err := a.checkEntry(e, ""); err != nil {
		return nil, err
	}
	if err := a.putEntry(e, nil); err != nil {
		return nil, err
	}
	return e, nil
}

func applyEntryUpdate(a *applyCtx) (any, *ApplyError) {
	var b EntryUpdate
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	e := b.Entry
	if e == nil {
		return nil, Errf(CodeInvalid, "no entry")
	}
	old, aerr := a.getEntry(e.UUID)
	if aerr != nil {
		return nil, aerr
	}
	if old == nil {
		return nil, Errf(CodeNotFound, "no entry with uuid %s", e.UUID)
	}
	if err := a.mayWriteEntry(old); err != nil {
		return nil, err
	}
	if old.Version != b.ExpectedVersion {
		return nil, Errf(CodeConflict, "%s changed concurrently (version %d, expected %d)", old.Name, old.Version, b.ExpectedVersion)
	}
	if e.Class != old.Class {
		return nil, Errf(CodeInvalid, "the class of an entry cannot change")
	}
	if e.Builtin != old.Builtin || (old.Builtin && e.Name != old.Name) {
		return nil, Errf(CodeInvalid, "built-in entries keep their name")
	}
	e.Created = old.Created
	if err := a.checkEntry(e, old.Name); err != nil {
		return nil, err
	}
	if err := a.putEntry(e, old); err != nil {
		return nil, err
	}
	return e, nil
}

func applyEntryDelete(a *applyCtx) (any, *ApplyError) {
	var b EntryDelete
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	old, aerr := a.getEntry(b.UUID)
	if aerr != nil {
		return nil, aerr
	}
	if old == nil {
		return nil, Errf(CodeNotFound, "no entry with uuid %s", b.UUID)
	}
	if err := a.mayWriteEntry(old); err != nil {
		return nil, err
	}
	if b.ExpectedVersion != 0 && old.Version != b.ExpectedVersion {
		return nil, Errf(CodeConflict, "%s changed concurrently", old.Name)
	}
	if old.Builtin {
		return nil, Errf(CodeDenied, "%s is built in and cannot be deleted", old.Name)
	}
	// Take the entry out of every group that holds it, in uuid order.
	var holders []*entry.Entry
	err := a.tx.Bucket(bGroups).ForEach(func(k, _ []byte) error {
		g, aerr := a.getEntry(string(k))
		if aerr != nil {
			return aerr
		}
		if g != nil {
			if _, found := slices.BinarySearch(g.Members, b.UUID); found {
				holders = append(holders, g)
			}
		}
		return nil
	})
	if err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	for _, g := range holders {
		before := g.Clone()
		i, _ := slices.BinarySearch(g.Members, b.UUID)
		g.Members = slices.Delete(g.Members, i, i+1)
		g.Updated = a.cmd.Time
		if aerr := a.putEntry(g, before); aerr != nil {
			return nil, aerr
		}
	}
	if aerr := a.relink(old.UUID, old.Members, nil); aerr != nil {
		return nil, aerr
	}
	if aerr := a.reindex(bPrincipals, old.UUID, old.KerberosPrincipals, nil); aerr != nil {
		return nil, aerr
	}
	if aerr := a.reindex(bExternalIDs, old.UUID, externalKeys(old), nil); aerr != nil {
		return nil, aerr
	}
	for _, bk := range [][]byte{bEntries, bGroups, bParents} {
		if err := a.tx.Bucket(bk).Delete([]byte(b.UUID)); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
	}
	if err := a.tx.Bucket(bNames).Delete([]byte(old.Name)); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	a.after(func(c *cache) { c.remove(old.UUID) })
	return nil, nil
}

func externalKeys(e *entry.Entry) []string {
	var ks []string
	for _, x := range e.ExternalIDs {
		ks = append(ks, entry.ExternalKey(x.Provider, x.Subject))
	}
	return ks
}

// reindex keeps a unique key -> uuid index (Kerberos principals, linked
// upstream identities) in step when an entry's keys change from before to
// after.
func (a *applyCtx) reindex(bucket []byte, id string, before, after []string) *ApplyError {
	b := a.tx.Bucket(bucket)
	for _, p := range before {
		if !slices.Contains(after, p) {
			if err := b.Delete([]byte(p)); err != nil {
				return Errf(CodeInvalid, "%v", err)
			}
		}
	}
	for _, p := range after {
		if err := b.Put([]byte(p), []byte(id)); err != nil {
			return Errf(CodeInvalid, "%v", err)
		}
	}
	return nil
}
