package fsm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// A snapshot is: magic, a length-prefixed JSON header, the bbolt file as
// of one read transaction, and the SHA-256 of that file. Restore checks all
// of it before it replaces anything.
var snapMagic = []byte("GHSNAP\x00\x01")

const snapFormat = 1

// SnapshotHeader describes a snapshot stream.
type SnapshotHeader struct {
	Format       int    `json:"format"`
	AppliedIndex uint64 `json:"applied_index"`
	AppliedTerm  uint64 `json:"applied_term"`
	Size         int64  `json:"size"`
}

type snapshot struct {
	tx *bolt.Tx
}

// Snapshot opens a read transaction now, so the stream written later by
// Persist is exactly the state at the current applied index while applies
// go on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	tx, err := f.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("snapshot: begin read: %w", err)
	}
	return &snapshot{tx: tx}, nil
}

// WriteSnapshot streams the current state to w (used by tests and tools
// outside Raft).
func (f *FSM) WriteSnapshot(w io.Writer) error {
	s, err := f.Snapshot()
	if err != nil {
		return err
	}
	defer s.Release()
	return s.(*snapshot).write(w)
}

func (s *snapshot) write(w io.Writer) error {
	meta := s.tx.Bucket(bMeta)
	h := SnapshotHeader{Format: snapFormat, AppliedIndex: getU64(meta, kAppliedIndex),
		AppliedTerm: getU64(meta, kAppliedTerm), Size: s.tx.Size()}
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.Write(snapMagic)
	binary.Write(bw, binary.BigEndian, uint32(len(hb)))
	bw.Write(hb)
	sum := sha256.New()
	if _, err := s.tx.WriteTo(io.MultiWriter(bw, sum)); err != nil {
		return fmt.Errorf("snapshot: write state: %w", err)
	}
	bw.Write(sum.Sum(nil))
	return bw.Flush()
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.tx.Rollback() }

// ReadSnapshotHeader reads and checks the magic and header of a stream.
func ReadSnapshotHeader(r io.Reader) (SnapshotHeader, error) {
	var h SnapshotHeader
	magic := make([]byte, len(snapMagic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return h, fmt.Errorf("snapshot: read magic: %w", err)
	}
	if !bytes.Equal(magic, snapMagic) {
		return h, errors.New("snapshot: not a Gatehouse snapshot (bad magic)")
	}
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return h, fmt.Errorf("snapshot: read header length: %w", err)
	}
	if n > 1<<16 {
		return h, fmt.Errorf("snapshot: header of %d bytes is implausible", n)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(r, hb); err != nil {
		return h, fmt.Errorf("snapshot: read header: %w", err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, fmt.Errorf("snapshot: decode header: %w", err)
	}
	if h.Format != snapFormat {
		return h, fmt.Errorf("snapshot: format %d not supported", h.Format)
	}
	if h.Size <= 0 {
		return h, fmt.Errorf("snapshot: size %d is invalid", h.Size)
	}
	return h, nil
}

// Restore replaces the state with a snapshot stream: it writes a temp file,
// checks the checksum and the applied index inside, fsyncs, and only then
// renames it over state.db and rebuilds the caches.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 1<<16)
	h, err := ReadSnapshotHeader(r)
	if err != nil {
		return err
	}
	tmp := f.path + ".restore"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: create %s: %w", tmp, err)
	}
	defer os.Remove(tmp)
	sum := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(out, sum), r, h.Size); err != nil {
		out.Close()
		return fmt.Errorf("snapshot: copy state: %w", err)
	}
	want := make([]byte, sha256.Size)
	if _, err := io.ReadFull(r, want); err != nil {
		out.Close()
		return fmt.Errorf("snapshot: read checksum: %w", err)
	}
	if !bytes.Equal(want, sum.Sum(nil)) {
		out.Close()
		return errors.New("snapshot: checksum mismatch: the stream is damaged")
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("snapshot: sync: %w", err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := checkSnapshotFile(tmp, h); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db != nil {
		if err := f.db.Close(); err != nil {
			return fmt.Errorf("snapshot: close state: %w", err)
		}
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("snapshot: replace state: %w", err)
	}
	return f.open()
}

func checkSnapshotFile(path string, h SnapshotHeader) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("snapshot: open restored state: %w", err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			return errors.New("snapshot: restored state has no meta bucket")
		}
		if got := getU64(meta, kAppliedIndex); got != h.AppliedIndex {
			return fmt.Errorf("snapshot: header says index %d, state says %d", h.AppliedIndex, got)
		}
		return nil
	})
}
