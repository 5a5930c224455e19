package spnego

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

func writeKeytab(t *testing.T, path string, kt *keytab.Keytab) {
	t.Helper()
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Written aside and renamed, as a rotation tool should.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// syncBuf is a log sink the watcher goroutine and the test share.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestARotatedKeytabIsUsedWithoutARestartAndABadFileKeepsTheOldKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "http.keytab")
	writeKeytab(t, path, serviceKeytab(t, 1))
	var logs syncBuf
	k, err := OpenKeytab(path, slog.New(slog.NewTextHandler(&logs, nil)), 30*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	a := &Acceptor{Keytab: k, Realms: []string{realm}}
	accepts := func(kvno int) bool {
		b, _ := mint(t, mintOpts{KVNO: kvno})
		_, err := a.Accept(context.Background(), header(b))
		return err == nil
	}
	if !accepts(1) || accepts(2) {
		t.Fatal("before the rotation: want key version 1 only")
	}
	// The KDC moved to key version 2; the keytab holds both (tickets
	// issued before the rotation stay good).
	writeKeytab(t, path, serviceKeytab(t, 1, 2))
	eventually(t, "the new key version is picked up by the watcher", func() bool { return accepts(2) })
	if !accepts(1) {
		t.Fatal("the old key version is gone although the keytab still holds it")
	}
	// A broken file: the keys stay, a warning is logged once.
	if err := os.WriteFile(path, []byte("not a keytab"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a warning about the bad keytab", func() bool { return strings.Contains(logs.String(), "cannot be loaded") })
	if !accepts(2) {
		t.Fatal("a bad keytab file dropped the keys loaded before")
	}
	if err := k.Reload(); err == nil {
		t.Fatal("Reload of a bad file reported no error")
	}
	// Reload (SIGHUP) picks up a file at once, whatever its time stamp.
	writeKeytab(t, path, serviceKeytab(t, 3))
	if err := k.Reload(); err != nil {
		t.Fatal(err)
	}
	if !accepts(3) || accepts(1) {
		t.Fatal("after Reload: want key version 3 only")
	}
	if _, err := OpenKeytab(filepath.Join(t.TempDir(), "missing"), nil, 0); err == nil {
		t.Fatal("a missing keytab opened")
	}
}

func TestKeytabPathFallsBackToKRB5KTNAME(t *testing.T) {
	t.Setenv("KRB5_KTNAME", "FILE:/etc/x.keytab")
	if p := KeytabPath(""); p != "/etc/x.keytab" {
		t.Fatal(p)
	}
	if p := KeytabPath("/a"); p != "/a" {
		t.Fatal(p)
	}
	t.Setenv("KRB5_KTNAME", "")
	if p := KeytabPath(""); p != "" {
		t.Fatal(p)
	}
}
