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
	if err := n.WaitApplied(ctx, idx); err != nil {
		return 0, err
	}
	n.metrics.readWait.Observe(time.Since(start).Seconds())
	return idx, nil
}
