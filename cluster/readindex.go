package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// readIndexer implements ReadIndex on top of hashicorp/raft, which has
// none: the leader notes its commit index, confirms it is still leader with
// a heartbeat round (VerifyLeader) and returns the index. Callers that
// arrive while a round is running wait for the next one, so that every
// caller's round started after it arrived; one round serves them all.
type readIndexer struct {
	n *Node

	mu      sync.Mutex
	ready   bool // this leader has committed an entry of its own term
	running bool
	pending []chan readResult
}

type readResult struct {
	index uint64
	err   error
}

func newReadIndexer(n *Node) *readIndexer { return &readIndexer{n: n} }

// leadershipChanged runs a barrier when this node becomes leader: until an
// entry of its own term commits, its commit index may lag the previous
// leader's and a read at it could miss acknowledged writes.
func (ri *readIndexer) leadershipChanged(isLeader bool) {
	ri.mu.Lock()
	ri.ready = false
	ri.mu.Unlock()
	if isLeader {
		go func() { _ = ri.barrier() }()
	}
}

func (ri *readIndexer) barrier() error {
	term := ri.n.raft.CurrentTerm()
	if err := ri.n.raft.Barrier(10 * time.Second).Error(); err != nil {
		return fmt.Errorf("read index: barrier: %w", err)
	}
	ri.mu.Lock()
	if ri.n.raft.CurrentTerm() == term && ri.n.IsLeader() {
		ri.ready = true
	}
	ri.mu.Unlock()
	return nil
}

func (ri *readIndexer) leaderReadIndex(ctx context.Context) (uint64, error) {
	if !ri.n.IsLeader() {
		return 0, fmt.Errorf("read index on %s: %w", ri.n.cfg.NodeID, raft.ErrNotLeader)
	}
	ri.mu.Lock()
	ready := ri.ready
	ri.mu.Unlock()
	if !ready {
		if err := ri.barrier(); err != nil {
			return 0, err
		}
	}
	ch := make(chan readResult, 1)
	ri.mu.Lock()
	ri.pending = append(ri.pending, ch)
	if !ri.running {
		ri.running = true
		go ri.rounds()
	}
	ri.mu.Unlock()
	select {
	case <-ctx.Done():
		return 0, fmt.Errorf("read index: %w", ctx.Err())
	case r := <-ch:
		return r.index, r.err
	}
}

func (ri *readIndexer) rounds() {
	for {
		ri.mu.Lock()
		batch := ri.pending
		ri.pending = nil
		if len(batch) == 0 {
			ri.running = false
			ri.mu.Unlock()
			return
		}
		ri.mu.Unlock()
		idx := ri.n.raft.CommitIndex()
		err := ri.n.raft.VerifyLeader().Error()
		if err != nil {
			err = fmt.Errorf("read index: verify leader: %w", err)
		}
		for _, ch := range batch {
			ch <- readResult{index: idx, err: err}
		}
	}
}

// ConsistentIndex returns an index that includes every write acknowledged
// before the call, after this node has applied it (ReadIndex).
func (n *Node) ConsistentIndex(ctx context.Context) (uint64, error) {
	start := time.Now()
	var idx uint64
	for {
		addr, self, err := n.waitLeader(ctx)
		if err != nil {
			return 0, err
		}
		if self {
			idx, err = n.reads.leaderReadIndex(ctx)
		} else {
			var resp readIndexResponse
			err = callRPC(ctx, n.rpcClient, addr, "/rpc/read-index", struct{}{}, &resp, nil)
			idx = resp.Index
		}
		if err == nil {
			break
		}
		// A read has no side effects, so retrying after a leader change is
		// always safe; give up once no leader can be found.
		if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, ErrNoLeader) && !errors.Is(err, raft.ErrLeadershipLost) {
			return 0, err
		}
		if err := sleepJitter(ctx, n.pollInterval()); err != nil {
			return 0, err
		}
		if time.Since(start) > n.cfg.NoLeaderWait {
			return 0, fmt.Errorf("read index: %v: %w", err, ErrNoLeader)
		}
	}
	idx, err := n.waitLocalApply(ctx, idx)
	if err != nil {
		return 0, err
	}
	n.metrics.readWait.Observe(time.Since(start).Seconds())
	return idx, nil
}

// waitLocalApply waits until this node's state machine holds everything up
// to the Raft index idx and returns the state machine index that covers it.
// Raft hands the FSM only command and configuration entries, never no-op
// or barrier entries, so the FSM's applied index may stop short of idx for
// good: first wait for Raft to dispatch idx, then wait for the last entry
// at or below idx that the FSM does see.
func (n *Node) waitLocalApply(ctx context.Context, idx uint64) (uint64, error) {
	for n.raft.AppliedIndex() < idx {
		t := time.NewTimer(2 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("wait for index %d: %w", idx, ctx.Err())
		case <-t.C:
		}
	}
	target := n.fsmIndexAtOrBelow(idx)
	if err := n.WaitApplied(ctx, target); err != nil {
		return 0, err
	}
	return target, nil
}

// fsmIndexAtOrBelow finds the highest index <= idx whose entry reaches the
// FSM. Entries already compacted into a snapshot are covered by the
// state machine's own index.
func (n *Node) fsmIndexAtOrBelow(idx uint64) uint64 {
	first, err := n.store.FirstIndex()
	if err != nil {
		return min(idx, n.sm.AppliedIndex())
	}
	var l raft.Log
	for i := idx; i >= first && i > 0; i-- {
		if err := n.store.GetLog(i, &l); err != nil {
			break
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i
		}
	}
	return min(idx, n.sm.AppliedIndex())
}
