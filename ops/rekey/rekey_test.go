package rekey

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-idm/gatehouse/ops/config"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// peer is one node's side of a rotation: a key file holding old, a
// sealer of it, and the step handler.
func peer(t *testing.T, old []byte) (*Rotator, http.Handler) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "encryption_key")
	if err := config.WriteKeyring(file, [][]byte{old}); err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(old)
	if err != nil {
		t.Fatal(err)
	}
	r := &Rotator{Sealer: s, KeyFile: file, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return r, r.Handler()
}

func step(t *testing.T, h http.Handler, path string, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b)))
	return w.Code
}

func ring(t *testing.T, r *Rotator) []seal.KeyID {
	t.Helper()
	keys, err := config.LoadKeyring(r.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	var ids []seal.KeyID
	for _, k := range keys {
		ids = append(ids, seal.IDOf(k))
	}
	if got := r.Sealer.IDs(); len(got) != len(ids) || got[0] != ids[0] {
		t.Fatalf("sealer ring %v differs from the key file %v", got, ids)
	}
	return ids
}

// The steps a peer takes, in order, and what it refuses: dropping the old
// key while it does not yet seal with the new one (a second rotation that
// overtook the first, or a retain sent by mistake) would lose every value
// sealed under the old key.
func TestPeerStepsAndRefusals(t *testing.T) {
	old, fresh := key(1), key(2)
	r, h := peer(t, old)
	enc := base64.StdEncoding.EncodeToString(fresh)

	if c := step(t, h, rpcAdd, addRequest{Key: base64.StdEncoding.EncodeToString(key(3)[:16])}); c != http.StatusBadRequest {
		t.Fatalf("a 16-byte key: status %d, want 400", c)
	}
	if c := step(t, h, rpcAdd, addRequest{Key: enc}); c != http.StatusOK {
		t.Fatalf("learn: status %d", c)
	}
	if ids := ring(t, r); len(ids) != 2 || ids[0] != seal.IDOf(old) || ids[1] != seal.IDOf(fresh) {
		t.Fatalf("after learning, ring %v: want old first, new second", ids)
	}
	if c := step(t, h, rpcRetain, retainRequest{KeyID: seal.IDOf(fresh).String()}); c != http.StatusConflict {
		t.Fatalf("retain before the switch: status %d, want 409", c)
	}
	if ids := ring(t, r); len(ids) != 2 {
		t.Fatalf("a refused retain dropped keys: %v", ids)
	}
	if c := step(t, h, rpcAdd, addRequest{Key: enc, Current: true}); c != http.StatusOK {
		t.Fatalf("switch: status %d", c)
	}
	if c := step(t, h, rpcAdd, addRequest{Key: enc}); c != http.StatusOK {
		t.Fatalf("a repeated learn step: status %d", c)
	}
	if ids := ring(t, r); len(ids) != 2 || ids[0] != seal.IDOf(fresh) {
		t.Fatalf("a repeated learn step moved the sealing key: %v", ids)
	}
	if c := step(t, h, rpcRetain, retainRequest{KeyID: seal.IDOf(old).String()}); c != http.StatusConflict {
		t.Fatalf("retain of a key that is not the sealing one: status %d, want 409", c)
	}
	if c := step(t, h, rpcRetain, retainRequest{KeyID: seal.IDOf(fresh).String()}); c != http.StatusOK {
		t.Fatalf("retain: status %d", c)
	}
	if ids := ring(t, r); len(ids) != 1 || ids[0] != seal.IDOf(fresh) {
		t.Fatalf("after retain, ring %v: want the new key alone", ids)
	}
	raw, _ := os.ReadFile(r.KeyFile)
	if bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(old))) {
		t.Fatal("the old key is still in the key file")
	}
}
