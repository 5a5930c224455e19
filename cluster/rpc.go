package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// Error codes in RPC error bodies.
const (
	codeNotLeader = "not_leader"
	codeNoLeader  = "no_leader"
	codeDenied    = "denied"
	codeInvalid   = "invalid"
	codeConflict  = "conflict"
	codeNotFound  = "not_found"
	codeInternal  = "internal"
)

// headerForwarded marks a request that a member forwarded to the leader on
// behalf of the original caller (whose identity the member checked).
const headerForwarded = "X-Gatehouse-Forwarded-For"

// RPCError is an error answer of the cluster RPC.
type RPCError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"error"`
}

func (e *RPCError) Error() string { return e.Message }

// Is lets errors.Is(err, ErrNoLeader) work across the RPC.
func (e *RPCError) Is(target error) bool {
	return target == ErrNoLeader && (e.Code == codeNoLeader || e.Code == codeNotLeader)
}

type joinRequest struct {
	ID   string `json:"id"`
	Addr string `json:"addr"` // the joiner's cluster address
}

type joinResponse struct {
	Gossip []string `json:"gossip"` // gossip addresses of current members
}

type joinClusterRequest struct {
	Addr string `json:"addr"` // cluster address of any member of the cluster to join
}

type removeRequest struct {
	ID string `json:"id"`
}

type readIndexResponse struct {
	Index uint64 `json:"index"`
}

func (n *Node) registerRPC() {
	n.rpcMux.HandleFunc("POST /rpc/apply", n.handleApply)
	n.rpcMux.HandleFunc("POST /rpc/apply-batch", n.handleApplyBatch)
	n.rpcMux.HandleFunc("POST /rpc/join", n.handleJoin)
	n.rpcMux.HandleFunc("POST /rpc/join-cluster", n.handleJoinCluster)
	n.rpcMux.HandleFunc("POST /rpc/leave", n.handleLeave)
	n.rpcMux.HandleFunc("POST /rpc/remove", n.handleRemove)
	n.rpcMux.HandleFunc("GET /rpc/status", n.handleStatus)
	n.rpcMux.HandleFunc("POST /rpc/read-index", n.handleReadIndex)
	n.rpcMux.HandleFunc("GET /rpc/snapshot", n.handleSnapshot)
	n.rpcMux.HandleFunc("POST /rpc/restore", n.handleRestore)
	n.rpcMux.HandleFunc("POST /rpc/bootstrap", n.handleBootstrap)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, &RPCError{Code: code, Message: fmt.Sprintf(format, args...)})
}

// writeRaftErr maps an error from a Raft call onto a status: not-leader
// answers are 503 so that callers know nothing was proposed.
func writeRaftErr(w http.ResponseWriter, err error) {
	status, e := raftErrToRPC(err)
	writeJSON(w, status, e)
}

func raftErrToRPC(err error) (int, *RPCError) {
	var re *RPCError
	switch {
	case errors.As(err, &re):
		return re.Status, re
	case errors.Is(err, raft.ErrNotLeader):
		return http.StatusServiceUnavailable, &RPCError{Code: codeNotLeader, Message: err.Error()}
	case errors.Is(err, ErrNoLeader):
		return http.StatusServiceUnavailable, &RPCError{Code: codeNoLeader, Message: err.Error()}
	default:
		return http.StatusInternalServerError, &RPCError{Code: codeInternal, Message: err.Error()}
	}
}

// callerID is the node id (certificate CN) of the RPC caller; the listener
// has already verified the chain under the cluster CA.
func callerID(r *http.Request) string {
	st, _ := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState)
	if st == nil || len(st.PeerCertificates) == 0 {
		return ""
	}
	return st.PeerCertificates[0].Subject.CommonName
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	return nil
}

func (n *Node) handleApply(w http.ResponseWriter, r *http.Request) {
	if !n.IsLeader() {
		writeErr(w, http.StatusServiceUnavailable, codeNotLeader, "node %s is not the leader", n.cfg.NodeID)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxCommandBytes+1))
	if err != nil || len(b) > maxCommandBytes {
		writeErr(w, http.StatusBadRequest, codeInvalid, "command unreadable or too large")
		return
	}
	res, err := n.applyLocal(r.Context(), b)
	if err != nil {
		writeRaftErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if err := decodeBody(r, &req); err != nil || req.ID == "" || req.Addr == "" {
		writeErr(w, http.StatusBadRequest, codeInvalid, "join needs a node id and a cluster address")
		return
	}
	caller := callerID(r)
	forwarded := r.Header.Get(headerForwarded) == req.ID && n.isMember(caller)
	if caller != req.ID && !forwarded {
		// A certificate only admits the node it names.
		n.log.Warn("join refused: certificate names another node", "caller", caller, "asked", req.ID)
		writeErr(w, http.StatusForbidden, codeDenied, "certificate of %q cannot join as %q", caller, req.ID)
		return
	}
	if !n.IsLeader() {
		var resp joinResponse
		err := n.forwardToLeader(r.Context(), "/rpc/join", req, &resp, http.Header{headerForwarded: {req.ID}})
		if err != nil {
			writeRaftErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	if err := n.addNonvoter(req.ID, req.Addr); err != nil {
		writeRaftErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, joinResponse{Gossip: n.gossipAddrs()})
}

func (n *Node) handleJoinCluster(w http.ResponseWriter, r *http.Request) {
	var req joinClusterRequest
	if err := decodeBody(r, &req); err != nil || req.Addr == "" {
		writeErr(w, http.StatusBadRequest, codeInvalid, "join-cluster needs the cluster address of a member")
		return
	}
	if err := n.JoinCluster(r.Context(), req.Addr); err != nil {
		writeRaftErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "joined"})
}

func (n *Node) handleLeave(w http.ResponseWriter, r *http.Request) {
	if err := n.Leave(r.Context()); err != nil {
		writeRaftErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "left"})
}

func (n *Node) handleRemove(w http.ResponseWriter, r *http.Request) {
	var req removeRequest
	if err := decodeBody(r, &req); err != nil || req.ID == "" {
		writeErr(w, http.StatusBadRequest, codeInvalid, "remove needs a node id")
		return
	}
	if !n.IsLeader() {
		if err := n.forwardToLeader(r.Context(), "/rpc/remove", req, nil, nil); err != nil {
			writeRaftErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"result": "removed"})
		return
	}
	if err := n.removeServer(req.ID); err != nil {
		writeRaftErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "removed"})
}

func (n *Node) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, n.Status())
}

func (n *Node) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := n.reads.leaderReadIndex(r.Context())
	if err != nil {
		writeRaftErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, readIndexResponse{Index: idx})
}

func (n *Node) handleBootstrap(w http.ResponseWriter, r *http.Request) {
	if err := n.BootstrapSelf(); err != nil {
		writeRaftErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "bootstrapped"})
}

// callRPC posts (or, with in == nil, gets) JSON to another node's RPC and
// decodes a 200 answer into out. Error answers come back as *RPCError.
func callRPC(ctx context.Context, c *http.Client, addr, path string, in, out any, hdr http.Header) error {
	method, body := http.MethodGet, io.Reader(nil)
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s request: %w", path, err)
		}
		method, body = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+addr+path, body)
	if err != nil {
		return fmt.Errorf("rpc %s: %w", path, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("rpc %s to %s: %w", path, addr, err)
	}
	defer resp.Body.Close()
	return decodeRPCResponse(resp, path, out)
}

func decodeRPCResponse(resp *http.Response, path string, out any) error {
	if resp.StatusCode != http.StatusOK {
		re := &RPCError{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, re) != nil || re.Message == "" {
			re.Code, re.Message = codeInternal, "status "+strconv.Itoa(resp.StatusCode)+": "+string(b)
		}
		re.Message = path + ": " + re.Message
		return re
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("rpc %s: decode answer: %w", path, err)
	}
	return nil
}

// waitLeader returns the leader's cluster address, waiting up to
// NoLeaderWait (polling with jitter) for one to be elected.
func (n *Node) waitLeader(ctx context.Context) (addr string, self bool, err error) {
	deadline := time.Now().Add(n.cfg.NoLeaderWait)
	for {
		if n.IsLeader() {
			return n.advAddr, true, nil
		}
		if a, id := n.raft.LeaderWithID(); a != "" && string(id) != n.cfg.NodeID {
			return string(a), false, nil
		}
		if time.Now().After(deadline) {
			return "", false, fmt.Errorf("node %s waited %s: %w", n.cfg.NodeID, n.cfg.NoLeaderWait, ErrNoLeader)
		}
		if err := sleepJitter(ctx, n.pollInterval()); err != nil {
			return "", false, err
		}
	}
}

// forwardToLeader sends a JSON RPC to the leader (waiting for one). The
// operations that use it are idempotent, so not-leader answers are retried
// until NoLeaderWait runs out.
func (n *Node) forwardToLeader(ctx context.Context, path string, in, out any, hdr http.Header) error {
	deadline := time.Now().Add(n.cfg.NoLeaderWait)
	for {
		addr, self, err := n.waitLeader(ctx)
		if err != nil {
			return err
		}
		if self {
			// We became leader meanwhile: call ourselves over the RPC so that
			// one code path serves both.
			addr = n.advAddr
		}
		err = callRPC(ctx, n.rpcClient, addr, path, in, out, hdr)
		var re *RPCError
		if err == nil || !errors.As(err, &re) || re.Code != codeNotLeader || time.Now().After(deadline) {
			return err
		}
		if err := sleepJitter(ctx, n.pollInterval()); err != nil {
			return err
		}
	}
}

func (n *Node) pollInterval() time.Duration {
	return max(20*time.Millisecond, min(n.cfg.HeartbeatTimeout/4, 250*time.Millisecond))
}
