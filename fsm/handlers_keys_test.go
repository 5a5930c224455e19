package fsm

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

func keyAddLog(b *logBuilder, kid, alg string, created int64) *raft.Log {
	return b.log(TypeKeyAdd, KeyAdd{Key: SigningKey{KID: kid, Alg: alg, PublicJWK: json.RawMessage(`{}`),
		SealedPrivate: []byte("sealed-" + kid), Created: created}})
}

func kids(f *FSM) []string {
	var out []string
	for _, k := range f.SigningKeys() {
		out = append(out, k.KID)
	}
	return out
}

func TestKeyRemoveRetiresOldKeysButNeverTheActiveOne(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b)) // k1, ES256, created 0
	// The only ES256 key is the active one.
	applyErr(t, f, b.log(TypeKeyRemove, KeyRemove{KID: "k1"}), CodeConflict)
	applyOK(t, f, keyAddLog(b, "k2", "ES256", 10))
	applyOK(t, f, keyAddLog(b, "r1", "RS256", 11))
	// An account may not remove keys, not even system_admins.
	l := b.log(TypeKeyRemove, KeyRemove{KID: "k1"})
	l.Data = bytes.Replace(l.Data, []byte(`"body"`), []byte(`"actor":"00000000-0000-4000-8000-000000000000","body"`), 1)
	applyErr(t, f, l, CodeDenied)
	applyErr(t, f, b.log(TypeKeyRemove, KeyRemove{KID: "nope"}), CodeNotFound)
	applyErr(t, f, b.log(TypeKeyRemove, KeyRemove{}), CodeInvalid)
	// The RS256 key is the active key of its own algorithm.
	applyErr(t, f, b.log(TypeKeyRemove, KeyRemove{KID: "r1"}), CodeConflict)
	applyOK(t, f, b.log(TypeKeyRemove, KeyRemove{KID: "k1"}))
	if got := kids(f); len(got) != 2 || got[0] != "k2" || got[1] != "r1" {
		t.Fatalf("keys after removing k1: %v", got)
	}
	applyErr(t, f, b.log(TypeKeyRemove, KeyRemove{KID: "k2"}), CodeConflict)
}

// The active key is decided by Created, not by the kid's sort order in the
// store: a newer key with a smaller kid still protects itself.
func TestNewestKeyDependsOnCreatedNotOnListOrder(t *testing.T) {
	keys := []SigningKey{{KID: "z", Alg: "ES256", Created: 1}, {KID: "a", Alg: "ES256", Created: 2}, {KID: "r", Alg: "RS256", Created: 3}}
	if k, _ := NewestKey(keys, "ES256"); k.KID != "a" {
		t.Fatalf("newest ES256: %s", k.KID)
	}
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	applyOK(t, f, keyAddLog(b, "zz", "ES256", 5))
	applyOK(t, f, keyAddLog(b, "aa", "ES256", 6))
	applyErr(t, f, b.log(TypeKeyRemove, KeyRemove{KID: "aa"}), CodeConflict)
	applyOK(t, f, b.log(TypeKeyRemove, KeyRemove{KID: "zz"}))
}

// A rotation and a retirement in one batch, applied in different batch
// sizes on two nodes, leave identical stores and caches.
func TestKeyRotationLogIsDeterministic(t *testing.T) {
	b := &logBuilder{t: t}
	logs := []*raft.Log{initLog(b)}
	for i := int64(1); i <= 40; i++ {
		kid := "k" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		logs = append(logs, keyAddLog(b, kid, "ES256", i*100))
		if i > 2 {
			prev := "k" + string(rune('a'+(i-2)%26)) + string(rune('a'+(i-2)/26))
			logs = append(logs, b.log(TypeKeyRemove, KeyRemove{KID: prev}))
		}
		// Refused in every batch size: the key just added is active.
		logs = append(logs, b.log(TypeKeyRemove, KeyRemove{KID: kid}))
	}
	x, y := openTest(t), openTest(t)
	for i := 0; i < len(logs); i += 64 {
		x.ApplyBatch(logs[i:min(i+64, len(logs))])
	}
	for i := 0; i < len(logs); i += 3 {
		y.ApplyBatch(logs[i:min(i+3, len(logs))])
	}
	var dx, dy bytes.Buffer
	if err := x.Dump(&dx); err != nil {
		t.Fatal(err)
	}
	if err := y.Dump(&dy); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dx.Bytes(), dy.Bytes()) {
		t.Fatal("stores differ after the same key log")
	}
	if kx, ky := kids(x), kids(y); len(kx) != 3 || len(ky) != 3 || kx[2] != ky[2] {
		// k1 (never retired here), the previous and the active key.
		t.Fatalf("keys left: %v and %v", kx, ky)
	}
}

func TestKeyRemoveGoldenEncoding(t *testing.T) {
	cmd, err := NewCommand(TypeKeyRemove, 1, "req-golden", 1700000000000, KeyRemove{KID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := cmd.Encode()
	want, err := os.ReadFile(filepath.Join("testdata", "golden", "key.remove.v1.json"))
	if err != nil || !bytes.Equal(bytes.TrimSpace(want), got) {
		t.Fatalf("key.remove v1 golden: %s vs %s (%v)", got, want, err)
	}
}
