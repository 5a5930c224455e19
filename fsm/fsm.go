package fsm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Options are the FSM's collaborators. None of them may influence state:
// Now and ObserveApply exist only to measure apply latency.
type Options struct {
	Logger       *slog.Logger
	Now          func() time.Time
	ObserveApply func(command string, d time.Duration)
	// NoSync skips fsync of state.db: for tests and benchmarks only.
	NoSync bool
}

// FSM is a node's state machine. It implements raft.BatchingFSM.
type FSM struct {
	path string
	opts Options

	// mu guards db against Restore swapping it while a batch or a snapshot
	// runs; apply itself is single-threaded (Raft's FSM goroutine).
	mu sync.RWMutex
	db *bolt.DB

	handlers map[string]handler
	state    atomic.Pointer[cache]

	appliedMu sync.Mutex
	applied   uint64
	appliedCh chan struct{} // closed and replaced whenever applied advances
}

var _ raft.BatchingFSM = (*FSM)(nil)

// Open opens (or creates) the state file and rebuilds the caches from it,
// so restart time does not depend on the length of the log.
func Open(path string, opts Options) (*FSM, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &FSM{path: path, opts: opts, handlers: newHandlerTable(), appliedCh: make(chan struct{})}
	if err := f.open(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FSM) open() error {
	db, err := bolt.Open(f.path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("open state %s: %w", f.path, err)
	}
	var idx uint64
	c := newCache()
	err = db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		idx = getU64(tx.Bucket(bMeta), kAppliedIndex)
		return c.load(tx)
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("load state %s: %w", f.path, err)
	}
	db.NoSync = f.opts.NoSync
	f.db = db
	f.state.Store(c)
	f.setApplied(idx)
	return nil
}

// Close closes the state file.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db = nil
	return err
}

// AppliedIndex is the highest log index reflected in the store.
func (f *FSM) AppliedIndex() uint64 {
	f.appliedMu.Lock()
	defer f.appliedMu.Unlock()
	return f.applied
}

func (f *FSM) setApplied(idx uint64) {
	f.appliedMu.Lock()
	defer f.appliedMu.Unlock()
	f.applied = idx
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
}

// WaitApplied blocks until the store reflects index or ctx ends.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		f.appliedMu.Lock()
		applied, ch := f.applied, f.appliedCh
		f.appliedMu.Unlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("index %d not applied (at %d): %w", index, applied, ctx.Err())
		}
	}
}

// Apply applies one log; Raft calls ApplyBatch instead, this exists for the
// raft.FSM interface.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies a batch of logs in one bbolt transaction together with
// the new applied index. Entries at or below the stored index were applied
// before a restart and are skipped.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]any, len(logs))
	var pending []func(*cache)
	var last, lastTerm uint64
	err := f.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		stored := getU64(meta, kAppliedIndex)
		for i, l := range logs {
			if l.Index <= stored {
				out[i] = Result{Index: l.Index}
				continue
			}
			last, lastTerm = l.Index, l.Term
			if l.Type != raft.LogCommand {
				out[i] = Result{Index: l.Index}
				continue
			}
			res, pend := f.applyOne(tx, l)
			out[i] = res
			pending = append(pending, pend...)
		}
		if last == 0 {
			return nil
		}
		if err := meta.Put(kAppliedIndex, u64(last)); err != nil {
			return err
		}
		return meta.Put(kAppliedTerm, u64(lastTerm))
	})
	if err != nil {
		// The store could not be written: this node can no longer follow
		// the log. Stop rather than answer from state that lies.
		f.opts.Logger.Error("state store write failed; stopping", "error", err)
		fmt.Fprintln(os.Stderr, "gatehouse: state store write failed:", err)
		os.Exit(70)
	}
	if last == 0 {
		return out
	}
	c := f.state.Load()
	c.mu.Lock()
	for _, p := range pending {
		p(c)
	}
	c.mu.Unlock()
	f.setApplied(last)
	return out
}

// applyOne decodes, deduplicates and dispatches one command. It never
// panics: a refusal is a Result with Err set and no change to the store.
func (f *FSM) applyOne(tx *bolt.Tx, l *raft.Log) (Result, []func(*cache)) {
	cmd, err := DecodeCommand(l.Data)
	if err != nil {
		return Result{Index: l.Index, Err: Errf(CodeInvalid, "%v", err)}, nil
	}
	reqs := tx.Bucket(bRequests)
	var prev Result
	if ok, _ := getJSON(reqs, cmd.RequestID, &prev); ok {
		return prev, nil
	}
	h, ok := f.handlers[handlerKey(cmd.Type, cmd.TypeVersion)]
	if !ok {
		if cmd.Optional {
			return Result{Index: l.Index}, nil
		}
		// A command this binary does not know: applying nothing would
		// diverge from nodes that do. Stop with a clear reason.
		msg := fmt.Sprintf("unknown command %s v%d at index %d: upgrade this node", cmd.Type, cmd.TypeVersion, l.Index)
		f.opts.Logger.Error(msg)
		fmt.Fprintln(os.Stderr, "gatehouse:", msg)
		os.Exit(70)
	}
	var start time.Time
	if f.opts.Now != nil {
		start = f.opts.Now()
	}
	// A refused command must leave no trace, but the batch shares one
	// transaction: run the handler in a nested scope by checking first and
	// writing after (handlers validate before they write).
	a := &applyCtx{tx: tx, index: l.Index, cmd: cmd}
	value, aerr := h(a)
	res := Result{Index: l.Index, Err: aerr}
	if aerr == nil && value != nil {
		res.Value = mustJSON(value)
	}
	if aerr != nil {
		a.pending = nil
	}
	// The dedup record keeps the outcome, not the value: it is written for
	// every command, and values (whole entries) would double the bytes
	// each write dirties.
	if err := rememberRequest(tx, l.Index, cmd.RequestID, Result{Index: res.Index, Err: res.Err}); err != nil {
		res.Err = Errf(CodeInvalid, "remember request: %v", err)
	}
	if f.opts.ObserveApply != nil && f.opts.Now != nil {
		f.opts.ObserveApply(cmd.Type, f.opts.Now().Sub(start))
	}
	return res, a.pending
}

func rememberRequest(tx *bolt.Tx, index uint64, rid string, res Result) error {
	if err := putJSON(tx.Bucket(bRequests), rid, res); err != nil {
		return err
	}
	log := tx.Bucket(bReqLog)
	if err := log.Put(append(u64(index), rid...), present); err != nil {
		return err
	}
	if index <= dedupWindow {
		return nil
	}
	cut := u64(index - dedupWindow)
	c := log.Cursor()
	reqs := tx.Bucket(bRequests)
	for k, _ := c.First(); k != nil && string(k[:8]) < string(cut); k, _ = c.First() {
		if err := reqs.Delete(k[8:]); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Dump writes every bucket's keys and values in order: the basis of the
// determinism test and of diagnosing divergence between nodes.
func (f *FSM) Dump(w io.Writer) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := fmt.Fprintf(w, "[%s]\n", name); err != nil {
				return err
			}
			err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				_, err := fmt.Fprintf(w, "%q=%q\n", k, v)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

var errClosed = errors.New("state store closed")
