package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/gatehouse-idm/gatehouse/fsm"
)

const maxCommandBytes = fsm.MaxCommandSize

// applyTimeout bounds how long raft.Apply may wait to enqueue and commit
// when the caller's context has no deadline.
const applyTimeout = 30 * time.Second

// Apply proposes cmd. On the leader it goes straight into Raft; elsewhere
// the encoded bytes are forwarded to the leader over the cluster RPC and
// the leader's result is returned as if local. Result.Index is the log
// index. With no leader it waits up to NoLeaderWait, then fails with an
// error wrapping ErrNoLeader.
func (n *Node) Apply(ctx context.Context, cmd fsm.Command) (fsm.Result, error) {
	b, err := cmd.Encode()
	if err != nil {
		return fsm.Result{}, err
	}
	return n.applyBytes(ctx, b)
}

func (n *Node) applyBytes(ctx context.Context, b []byte) (fsm.Result, error) {
	deadline := time.Now().Add(n.cfg.NoLeaderWait)
	retriedAmbiguous := false
	for {
		addr, self, err := n.waitLeader(ctx)
		if err != nil {
			n.metrics.forward("no_leader")
			return fsm.Result{}, err
		}
		if self {
			res, err := n.applyLocal(ctx, b)
			if errors.Is(err, raft.ErrNotLeader) && time.Now().Before(deadline) {
				// Nothing was proposed: safe to wait for the next leader.
				if err := sleepJitter(ctx, n.pollInterval()); err != nil {
					return fsm.Result{}, err
				}
				continue
			}
			return res, err
		}
		res, err := n.forwardApply(ctx, addr, b)
		if err == nil {
			n.metrics.forward("ok")
			return res, nil
		}
		var re *RPCError
		switch {
		case errors.As(err, &re) && re.Code == codeNotLeader, isDialError(err):
			// Definitely not proposed: wait for a leader and try again.
			if time.Now().After(deadline) {
				n.metrics.forward("no_leader")
				return fsm.Result{}, fmt.Errorf("forward to %s: %v: %w", addr, err, ErrNoLeader)
			}
			n.metrics.forward("retry")
			if err := sleepJitter(ctx, n.pollInterval()); err != nil {
				return fsm.Result{}, err
			}
		case !retriedAmbiguous && ctx.Err() == nil && !(errors.As(err, &re) && re.Status < 500):
			// The command may or may not have been proposed. One last
			// attempt on a fresh connection; a duplicate is harmless
			// because the FSM dedups by RequestID.
			retriedAmbiguous = true
			n.metrics.forward("retry")
			n.rpcClient.CloseIdleConnections()
		default:
			n.metrics.forward("error")
			return fsm.Result{}, fmt.Errorf("forward write to leader %s: %w", addr, err)
		}
	}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// forwardApply hands the command to the batching forwarder for addr and
// waits for its own result.
func (n *Node) forwardApply(ctx context.Context, addr string, b []byte) (fsm.Result, error) {
	return n.fwd.forward(ctx, addr, b)
}

// applyLocal proposes on this node, which must be the leader.
func (n *Node) applyLocal(ctx context.Context, b []byte) (fsm.Result, error) {
	timeout := applyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := n.raft.Apply(b, timeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case <-ctx.Done():
		return fsm.Result{}, fmt.Errorf("apply: %w", ctx.Err())
	case err := <-done:
		if err != nil {
			return fsm.Result{}, fmt.Errorf("apply: %w", err)
		}
	}
	return futureResult(f)
}

// futureResult turns a finished Apply future into the FSM's result, with
// the log index filled in.
func futureResult(f raft.ApplyFuture) (fsm.Result, error) {
	switch v := f.Response().(type) {
	case fsm.Result:
		v.Index = f.Index()
		return v, nil
	case *fsm.Result:
		r := *v
		r.Index = f.Index()
		return r, nil
	case error:
		return fsm.Result{}, fmt.Errorf("apply: state machine: %w", v)
	case nil:
		return fsm.Result{Index: f.Index()}, nil
	default:
		// An FSM returning something else is a bug there; still report
		// the index so read-your-writes works.
		raw, _ := json.Marshal(v)
		return fsm.Result{Index: f.Index(), Value: raw}, nil
	}
}

// sleepJitter sleeps between d/2 and 3d/2, or until ctx ends, so that many
// waiting callers do not poll in lock step.
func sleepJitter(ctx context.Context, d time.Duration) error {
	d = d/2 + rand.N(d+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
