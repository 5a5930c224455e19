package fsm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/hashicorp/raft"
)

func openTest(t testing.TB) *FSM {
	t.Helper()
	f, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func uuidFor(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.UintN(1<<16), r.UintN(1<<12), r.UintN(1<<12), r.Uint64()&(1<<48-1))
}

// logBuilder makes raft logs as a proposer would: consecutive indexes and
// every generated value filled in.
type logBuilder struct {
	index uint64
	t     testing.TB
}

func (b *logBuilder) log(typ string, body any) *raft.Log {
	b.index++
	cmd, err := NewCommand(typ, 1, fmt.Sprintf("req-%d", b.index), int64(b.index)*1000, body)
	if err != nil {
		b.t.Fatal(err)
	}
	data, err := cmd.Encode()
	if err != nil {
		b.t.Fatal(err)
	}
	return &raft.Log{Index: b.index, Term: 1, Type: raft.LogCommand, Data: data}
}

func initLog(b *logBuilder) *raft.Log {
	return b.log(TypeSystemInit, SystemInit{Domain: "example.com", Builtins: entry.Builtins(0),
		DeniedNames: entry.DefaultDeniedNames,
		SigningKey:  SigningKey{KID: "k1", Alg: "ES256", PublicJWK: json.RawMessage(`{}`), SealedPrivate: []byte("sealed")}})
}

func applyOK(t *testing.T, f *FSM, l *raft.Log) Result {
	t.Helper()
	res := f.ApplyBatch([]*raft.Log{l})[0].(Result)
	if res.Err != nil {
		t.Fatalf("apply %d: %v", l.Index, res.Err)
	}
	return res
}

func applyErr(t *testing.T, f *FSM, l *raft.Log, code string) {
	t.Helper()
	res := f.ApplyBatch([]*raft.Log{l})[0].(Result)
	if res.Err == nil || res.Err.Code != code {
		t.Fatalf("apply %d: want %s error, got %+v", l.Index, code, res.Err)
	}
}

// genLog makes n mixed commands: creates, renames, membership changes,
// deletes, denied names, and a share of commands that must be refused.
func genLog(t testing.TB, n int, seed uint64) []*raft.Log {
	r := rand.New(rand.NewPCG(seed, seed))
	b := &logBuilder{t: t}
	logs := []*raft.Log{initLog(b)}
	var people, groups []*entry.Entry
	for len(logs) < n {
		now := int64(b.index+1) * 1000 // the time logBuilder gives the next command
		if k := r.IntN(16); k >= 10 && len(people) >= 5 && len(groups) >= 3 {
			p := people[r.IntN(len(people))]
			sid := fmt.Sprintf("n1.s%d", r.IntN(n))
			switch k {
			case 10, 11:
				logs = append(logs, b.log(TypeSessionRecord, SessionRecord{Session: Session{ID: sid, Account: p.UUID,
					Mechanism: "password", Issued: now, Expires: now + int64(r.IntN(50000))}}))
			case 12:
				logs = append(logs, b.log(TypeSessionRevoke, SessionRevoke{ID: sid, Account: p.UUID, Expires: now + int64(r.IntN(50000))}))
			case 13:
				h := fmt.Sprintf("%064x", r.IntN(n))
				if r.IntN(2) == 0 {
					logs = append(logs, b.log(TypeResetTokenCreate, ResetTokenCreate{Token: ResetToken{Hash: h, Account: p.UUID,
						Expires: now + int64(r.IntN(20000)), Created: now}}))
				} else {
					logs = append(logs, b.log(TypeCredentialCommit, CredentialCommit{UUID: p.UUID, ExpectedVersion: uint64(r.IntN(int(b.index) + 1)),
						ResetTokenHash: h, Credentials: entry.Credentials{PasswordHash: fmt.Sprintf("$argon2id$%d", r.IntN(n))}}))
				}
			case 14:
				g := groups[r.IntN(len(groups))]
				logs = append(logs, b.log(TypeGroupPolicy, GroupPolicy{UUID: g.UUID, Policy: &entry.Policy{Enabled: true,
					AuthExpiry: int64(r.IntN(86400)), PrivilegeExpiry: int64(r.IntN(3601)), CredentialTypeMinimum: entry.CredTypes[r.IntN(4)]}}))
			default:
				logs = append(logs, b.log(TypeBadlistAppend, BadlistAppend{Passwords: []string{fmt.Sprintf("bad%d", r.IntN(n)), fmt.Sprintf("bad%d", r.IntN(n))}}))
			}
			continue
		}
		switch k := r.IntN(10); {
		case k < 4 || len(people) < 5:
			e := &entry.Entry{UUID: uuidFor(r), Class: entry.Person, Name: fmt.Sprintf("p%d", r.IntN(n)),
				DisplayName: "P", Mail: []string{"p@example.com"}, Created: int64(b.index)}
			people = append(people, e)
			logs = append(logs, b.log(TypeEntryCreate, EntryCreate{Entry: e}))
		case k < 6 || len(groups) < 3:
			g := &entry.Entry{UUID: uuidFor(r), Class: entry.Group, Name: fmt.Sprintf("g%d", r.IntN(n))}
			groups = append(groups, g)
			logs = append(logs, b.log(TypeEntryCreate, EntryCreate{Entry: g}))
		case k < 8:
			g := groups[r.IntN(len(groups))].Clone()
			m := people[r.IntN(len(people))].UUID
			if r.IntN(3) == 0 {
				m = groups[r.IntN(len(groups))].UUID
			}
			g.Members = []string{m}
			// The expected version is often stale: those are refused, as
			// they would be in a real race.
			logs = append(logs, b.log(TypeEntryUpdate, EntryUpdate{Entry: g, ExpectedVersion: uint64(r.IntN(int(b.index) + 1))}))
		case k < 9:
			p := people[r.IntN(len(people))]
			logs = append(logs, b.log(TypeEntryDelete, EntryDelete{UUID: p.UUID}))
		default:
			logs = append(logs, b.log(TypeDeniedNamesAppend, DeniedNames{Names: []string{fmt.Sprintf("p%d", r.IntN(n))}}))
		}
	}
	return logs
}

func TestTwoFSMsApplyingOneLogHoldIdenticalState(t *testing.T) {
	logs := genLog(t, 10000, 42)
	a, b := openTest(t), openTest(t)
	// Different batch sizes on each side: batching must not change state.
	for i := 0; i < len(logs); i += 64 {
		a.ApplyBatch(logs[i:min(i+64, len(logs))])
	}
	for i := 0; i < len(logs); i += 7 {
		b.ApplyBatch(logs[i:min(i+7, len(logs))])
	}
	var da, db bytes.Buffer
	if err := a.Dump(&da); err != nil {
		t.Fatal(err)
	}
	if err := b.Dump(&db); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(da.Bytes(), db.Bytes()) {
		t.Fatalf("stores differ after the same log (%d vs %d bytes)", da.Len(), db.Len())
	}
	if a.AppliedIndex() != uint64(len(logs)) {
		t.Fatalf("applied %d, want %d", a.AppliedIndex(), len(logs))
	}
	if len(a.Entries(entry.Person)) < 100 {
		t.Fatalf("the generated log created only %d persons", len(a.Entries(entry.Person)))
	}
	policies := 0
	for _, g := range a.Entries(entry.Group) {
		if g.Policy != nil {
			policies++
		}
	}
	if a.BadlistCount() < 50 || policies < 3 {
		t.Fatalf("the generated log's authentication commands did little: %d badlisted, %d policies", a.BadlistCount(), policies)
	}
}

func TestReplayAfterRestartSkipsAppliedEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := genLog(t, 500, 7)
	f.ApplyBatch(logs)
	var before bytes.Buffer
	f.Dump(&before)
	f.Close()
	f, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.AppliedIndex() != 500 {
		t.Fatalf("applied index after reopen = %d", f.AppliedIndex())
	}
	f.ApplyBatch(logs) // Raft replays from its last snapshot: must be a no-op
	var after bytes.Buffer
	f.Dump(&after)
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Fatal("replaying applied entries changed the state")
	}
}

func TestEntryRules(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	alice := &entry.Entry{UUID: "11111111-1111-4111-8111-111111111111", Class: entry.Person, Name: "alice"}
	res := applyOK(t, f, b.log(TypeEntryCreate, EntryCreate{Entry: alice}))

	t.Run("a duplicate name is a conflict", func(t *testing.T) {
		dup := &entry.Entry{UUID: "22222222-2222-4222-8222-222222222222", Class: entry.Person, Name: "alice"}
		applyErr(t, f, b.log(TypeEntryCreate, EntryCreate{Entry: dup}), CodeConflict)
	})
	t.Run("a denied name is refused", func(t *testing.T) {
		root := &entry.Entry{UUID: "22222222-2222-4222-8222-222222222222", Class: entry.Person, Name: "root"}
		applyErr(t, f, b.log(TypeEntryCreate, EntryCreate{Entry: root}), CodeInvalid)
	})
	t.Run("an update from a stale version is a conflict", func(t *testing.T) {
		upd := alice.Clone()
		upd.DisplayName = "Alice"
		applyErr(t, f, b.log(TypeEntryUpdate, EntryUpdate{Entry: upd, ExpectedVersion: res.Index - 1}), CodeConflict)
		applyOK(t, f, b.log(TypeEntryUpdate, EntryUpdate{Entry: upd, ExpectedVersion: res.Index}))
		if e, _ := f.Entry("alice"); e.DisplayName != "Alice" {
			t.Fatalf("update not applied: %+v", e)
		}
	})
	t.Run("a repeated request id is answered once", func(t *testing.T) {
		l := b.log(TypeDeniedNamesAppend, DeniedNames{Names: []string{"mallory"}})
		first := applyOK(t, f, l)
		again := *l
		b.index++
		again.Index = b.index
		second := applyOK(t, f, &again)
		if first.Index != second.Index {
			t.Fatalf("the retry was applied again at %d (first %d)", second.Index, first.Index)
		}
	})
	t.Run("nested groups give a transitive memberof, cycles included", func(t *testing.T) {
		inner := &entry.Entry{UUID: "33333333-3333-4333-8333-333333333333", Class: entry.Group, Name: "inner", Members: []string{alice.UUID}}
		outer := &entry.Entry{UUID: "44444444-4444-4444-8444-444444444444", Class: entry.Group, Name: "outer", Members: []string{inner.UUID}}
		applyOK(t, f, b.log(TypeEntryCreate, EntryCreate{Entry: inner}))
		r := applyOK(t, f, b.log(TypeEntryCreate, EntryCreate{Entry: outer}))
		cur, _ := f.Entry("inner")
		cur.Members = []string{alice.UUID, outer.UUID} // inner ⊂ outer ⊂ inner
		applyOK(t, f, b.log(TypeEntryUpdate, EntryUpdate{Entry: cur, ExpectedVersion: cur.Version}))
		got := f.MemberOf(alice.UUID)
		want := []string{entry.UUIDIDMAllPersons, inner.UUID, outer.UUID}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("memberof(alice) = %v, want %v (outer at %d)", got, want, r.Index)
		}
	})
	t.Run("deleting a person takes it out of its groups", func(t *testing.T) {
		cur, _ := f.Entry("alice")
		applyOK(t, f, b.log(TypeEntryDelete, EntryDelete{UUID: cur.UUID, ExpectedVersion: cur.Version}))
		inner, _ := f.Entry("inner")
		if len(inner.Members) != 1 {
			t.Fatalf("inner still lists %v", inner.Members)
		}
		if _, ok := f.Entry("alice"); ok {
			t.Fatal("alice is still there")
		}
	})
	t.Run("built-in entries cannot be deleted", func(t *testing.T) {
		applyErr(t, f, b.log(TypeEntryDelete, EntryDelete{UUID: entry.UUIDAdmin}), CodeDenied)
	})
}

func TestSnapshotRoundTrip(t *testing.T) {
	src := openTest(t)
	src.ApplyBatch(genLog(t, 2000, 9))
	var snap bytes.Buffer
	if err := src.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	dst := openTest(t)
	damaged := bytes.Clone(snap.Bytes())
	damaged[len(damaged)/2] ^= 0xff
	if err := dst.Restore(nopCloser{bytes.NewReader(damaged)}); err == nil {
		t.Fatal("a damaged snapshot was restored")
	}
	if err := dst.Restore(nopCloser{bytes.NewReader(snap.Bytes())}); err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	src.Dump(&a)
	dst.Dump(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("restored state differs from the source")
	}
	if dst.AppliedIndex() != 2000 || len(dst.Entries("")) != len(src.Entries("")) {
		t.Fatalf("restored applied=%d entries=%d", dst.AppliedIndex(), len(dst.Entries("")))
	}
}

func TestWaitApplied(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(context.Background(), 1) }()
	f.ApplyBatch([]*raft.Log{initLog(b)})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := f.WaitApplied(ctx, 5); err == nil {
		t.Fatal("waiting for an index never applied returned nil")
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
