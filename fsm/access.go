package fsm

import (
	"encoding/json"
	"slices"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Access is checked twice: by idm when it prepares a command (for a clear
// early answer) and here, against the state inside the applying
// transaction, so that a write prepared just before the actor lost its
// rights cannot land. The rules are those of idm/access.go and
// docs/access-control.md. A command without an actor comes from the
// cluster itself (initialisation, recover-account), which only nodes can
// propose.

func (a *applyCtx) parents(id string) []string {
	var ps []string
	if v := a.tx.Bucket(bParents).Get([]byte(id)); v != nil {
		_ = json.Unmarshal(v, &ps)
	}
	return ps
}

// relink updates the parent index for group g whose members change from
// before to after.
func (a *applyCtx) relink(g string, before, after []string) *ApplyError {
	b := a.tx.Bucket(bParents)
	update := func(m string, add bool) *ApplyError {
		ps := a.parents(m)
		i, found := slices.BinarySearch(ps, g)
		switch {
		case add && !found:
			ps = slices.Insert(ps, i, g)
		case !add && found:
			ps = slices.Delete(ps, i, i+1)
		default:
			return nil
		}
		var err error
		if len(ps) == 0 {
			err = b.Delete([]byte(m))
		} else {
			err = putJSON(b, m, ps)
		}
		if err != nil {
			return Errf(CodeInvalid, "%v", err)
		}
		return nil
	}
	for _, m := range before {
		if !slices.Contains(after, m) {
			if err := update(m, false); err != nil {
				return err
			}
		}
	}
	for _, m := range after {
		if !slices.Contains(before, m) {
			if err := update(m, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// isMember walks the parent index up from id; persons are implicitly in
// idm_all_persons.
func (a *applyCtx) isMember(id, group string) bool {
	queue := a.parents(id)
	// Reading the entry for its class costs a decode: only do it when the
	// implicit group could matter.
	if group == entry.UUIDIDMAllPersons || len(a.parents(entry.UUIDIDMAllPersons)) > 0 {
		if e, _ := a.getEntry(id); e != nil && e.Class == entry.Person {
			queue = append(queue, entry.UUIDIDMAllPersons)
		}
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		if g == group {
			return true
		}
		if seen[g] {
			continue
		}
		seen[g] = true
		queue = append(queue, a.parents(g)...)
	}
	return false
}

func (a *applyCtx) actorIsSystemAdmin() bool {
	return a.cmd.Actor == "" || a.isMember(a.cmd.Actor, entry.UUIDSystemAdmins)
}

// mayWriteEntry re-checks that the actor may create (target is the new
// entry) or change or delete (target is the stored entry) an entry.
func (a *applyCtx) mayWriteEntry(target *entry.Entry) *ApplyError {
	if a.actorIsSystemAdmin() {
		return nil
	}
	if !a.isMember(a.cmd.Actor, entry.UUIDIDMAdmins) {
		return Errf(CodeDenied, "the actor may not change entries: that needs membership of idm_admins")
	}
	if target.Builtin || a.isMember(target.UUID, entry.UUIDSystemAdmins) {
		return Errf(CodeDenied, "%s holds system rights: only system_admins may change it", target.Name)
	}
	return nil
}

func (a *applyCtx) maySystem() *ApplyError {
	if !a.actorIsSystemAdmin() {
		return Errf(CodeDenied, "only members of system_admins may change system settings")
	}
	return nil
}
