package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/gatehouse-idm/gatehouse/fsm"
)

// Writes that reach a follower go to the leader in batches: each forward
// worker takes the first waiting command and every other one already
// queued, and sends them in one /rpc/apply-batch call. Under load this
// turns hundreds of RPCs a second into a few dozen, and the leader
// proposes the whole batch before waiting, so Raft commits it with one
// fsync. An idle system pays nothing: a lone command goes at once.
const (
	forwardWorkers  = 4   // concurrent batch RPCs per leader address
	forwardMaxBatch = 256 // commands per RPC
)

type forwardReq struct {
	ctx  context.Context
	b    []byte
	done chan forwardRes
}

type forwardRes struct {
	res fsm.Result
	err error
}

type forwarder struct {
	n      *Node
	ctx    context.Context // ends when the node stops: in-flight batches give up
	mu     sync.Mutex
	queues map[string]chan *forwardReq // by leader cluster address
}

func newForwarder(n *Node) *forwarder {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-n.stop; cancel() }()
	return &forwarder{n: n, ctx: ctx, queues: map[string]chan *forwardReq{}}
}

// queue returns the queue for addr, starting its workers on first use; nil
// once the node is stopping.
func (f *forwarder) queue(addr string) chan *forwardReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.n.stop:
		return nil
	default:
	}
	q, ok := f.queues[addr]
	if !ok {
		q = make(chan *forwardReq, 4*forwardMaxBatch)
		f.queues[addr] = q
		for range forwardWorkers {
			f.n.wg.Add(1)
			go f.run(addr, q)
		}
	}
	return q
}

func (f *forwarder) forward(ctx context.Context, addr string, b []byte) (fsm.Result, error) {
	r := &forwardReq{ctx: ctx, b: b, done: make(chan forwardRes, 1)}
	select {
	case f.queue(addr) <- r:
	case <-ctx.Done():
		return fsm.Result{}, ctx.Err()
	case <-f.n.stop:
		return fsm.Result{}, raft.ErrRaftShutdown
	}
	select {
	case x := <-r.done:
		return x.res, x.err
	case <-ctx.Done():
		return fsm.Result{}, ctx.Err()
	}
}

func (f *forwarder) run(addr string, q chan *forwardReq) {
	defer f.n.wg.Done()
	for {
		var first *forwardReq
		select {
		case first = <-q:
		case <-f.n.stop:
			return
		}
		batch := []*forwardReq{first}
	drain:
		for len(batch) < forwardMaxBatch {
			select {
			case r := <-q:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		f.send(addr, batch)
	}
}

type applyBatchRequest struct {
	Commands []json.RawMessage `json:"commands"`
}

type applyBatchItem struct {
	Result *fsm.Result `json:"result,omitempty"`
	Error  *RPCError   `json:"error,omitempty"`
	Status int         `json:"status,omitempty"`
}

type applyBatchResponse struct {
	Results []applyBatchItem `json:"results"`
}

func (f *forwarder) send(addr string, batch []*forwardReq) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- forwardRes{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	req := applyBatchRequest{Commands: make([]json.RawMessage, len(live))}
	for i, r := range live {
		req.Commands[i] = r.b
	}
	var resp applyBatchResponse
	err := f.call(addr, req, &resp)
	if err == nil && len(resp.Results) != len(live) {
		err = fmt.Errorf("rpc /rpc/apply-batch: %d results for %d commands", len(resp.Results), len(live))
	}
	for i, r := range live {
		switch {
		case err != nil:
			r.done <- forwardRes{err: err}
		case resp.Results[i].Error != nil:
			e := resp.Results[i].Error
			e.Status = resp.Results[i].Status
			r.done <- forwardRes{err: e}
		case resp.Results[i].Result == nil:
			r.done <- forwardRes{err: fmt.Errorf("rpc /rpc/apply-batch: empty result")}
		default:
			r.done <- forwardRes{res: *resp.Results[i].Result}
		}
	}
}

func (f *forwarder) call(addr string, in applyBatchRequest, out *applyBatchResponse) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	ctx, cancel := context.WithTimeout(f.ctx, applyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+"/rpc/apply-batch", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.n.rpcClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeRPCResponse(resp, "/rpc/apply-batch", out)
}

// handleApplyBatch proposes every command of a batch before waiting for
// any, so that Raft can put them in one append.
func (n *Node) handleApplyBatch(w http.ResponseWriter, r *http.Request) {
	if !n.IsLeader() {
		writeErr(w, http.StatusServiceUnavailable, codeNotLeader, "node %s is not the leader", n.cfg.NodeID)
		return
	}
	var req applyBatchRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, int64(forwardMaxBatch)*(maxCommandBytes+64)))
	if err := dec.Decode(&req); err != nil || len(req.Commands) > forwardMaxBatch {
		writeErr(w, http.StatusBadRequest, codeInvalid, "batch unreadable or too large")
		return
	}
	futures := make([]raft.ApplyFuture, len(req.Commands))
	out := applyBatchResponse{Results: make([]applyBatchItem, len(req.Commands))}
	for i, c := range req.Commands {
		if len(c) > maxCommandBytes {
			out.Results[i] = applyBatchItem{Status: http.StatusBadRequest, Error: &RPCError{Code: codeInvalid, Message: "command too large"}}
			continue
		}
		futures[i] = n.raft.Apply(c, applyTimeout)
	}
	start := time.Now()
	for i, f := range futures {
		if f == nil {
			continue
		}
		if err := f.Error(); err != nil {
			status, e := raftErrToRPC(err)
			out.Results[i] = applyBatchItem{Status: status, Error: e}
			continue
		}
		res, err := futureResult(f)
		if err != nil {
			out.Results[i] = applyBatchItem{Status: http.StatusInternalServerError, Error: &RPCError{Code: codeInternal, Message: err.Error()}}
			continue
		}
		out.Results[i] = applyBatchItem{Result: &res}
	}
	n.log.Debug("applied forwarded batch", "commands", len(req.Commands), "took", time.Since(start))
	writeJSON(w, http.StatusOK, out)
}
