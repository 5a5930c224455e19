package fsm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// logAs builds a log whose command acts for actor.
func (b *logBuilder) logAs(actor, typ string, body any) *raft.Log {
	l := b.log(typ, body)
	cmd, _ := DecodeCommand(l.Data)
	cmd.Actor = actor
	l.Data, _ = cmd.Encode()
	return l
}

func TestApplyRechecksTheActorsRightsAgainstTheStateItApplies(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	carol := &entry.Entry{UUID: "55555555-5555-4555-8555-555555555555", Class: entry.Person, Name: "carol"}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: carol}))
	cur, _ := f.Entry("carol")

	// idm_admin prepares a change to carol; before it is applied, admin
	// makes carol a system administrator. In one batch, as Raft may deliver.
	upd := cur.Clone()
	upd.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	sys, _ := f.Entry(entry.UUIDSystemAdmins)
	sys.Members = []string{entry.UUIDAdmin, carol.UUID}
	slices.Sort(sys.Members)
	promote := b.logAs(entry.UUIDAdmin, TypeEntryUpdate, EntryUpdate{Entry: sys, ExpectedVersion: sys.Version})
	change := b.logAs(entry.UUIDIDMAdmin, TypeEntryUpdate, EntryUpdate{Entry: upd, ExpectedVersion: cur.Version})
	out := f.ApplyBatch([]*raft.Log{promote, change})
	if r := out[0].(Result); r.Err != nil {
		t.Fatalf("admin promotes carol: %v", r.Err)
	}
	if r := out[1].(Result); r.Err == nil || r.Err.Code != CodeDenied {
		t.Fatalf("idm_admin's change to a new system administrator: want denied, got %+v", r.Err)
	}

	// A person without rights cannot get a command applied either.
	dave := &entry.Entry{UUID: "66666666-6666-4666-8666-666666666666", Class: entry.Person, Name: "dave"}
	applyErr(t, f, b.logAs(carol.UUID+"x", TypeEntryCreate, EntryCreate{Entry: dave}), CodeDenied)
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeDeniedNamesAppend, DeniedNames{Names: []string{"x"}}), CodeDenied)
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeKeyAdd, KeyAdd{Key: SigningKey{KID: "k9", SealedPrivate: []byte{1}}}), CodeDenied)
	// carol, now a system administrator, may.
	applyOK(t, f, b.logAs(carol.UUID, TypeEntryCreate, EntryCreate{Entry: dave}))
}

func TestTheParentIndexMatchesTheCachedMembership(t *testing.T) {
	f := openTest(t)
	f.ApplyBatch(genLog(t, 3000, 5))
	c := f.state.Load()
	err := f.db.View(func(tx *bolt.Tx) error {
		a := &applyCtx{tx: tx}
		checked := 0
		for id := range c.byUUID {
			got := a.parents(id)
			want := slices.Clone(c.parents[id])
			slices.Sort(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("parents of %s: store %v, cache %v", id, got, want)
			}
			if len(got) > 0 {
				checked++
			}
		}
		if checked == 0 {
			t.Error("no entry has a parent group: the log exercised nothing")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
