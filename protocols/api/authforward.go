package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
)

// An in-flight login lives on the node that began it (rule 5); its id
// names that node. A step that reaches another node (a load balancer
// without sticky sessions) is sent to the owner over the cluster channel
// and its answer returned as if local.

// Peers reaches other nodes over the cluster channel (cluster.Node).
type Peers interface {
	PeerRPCAddr(nodeID string) (string, bool)
	RPCClient() *http.Client
}

// RPCAuthStep is the cluster-RPC path that serves forwarded login steps.
const RPCAuthStep = "/rpc/auth/step"

const stepForwardTimeout = 10 * time.Second

type forwardedStep struct {
	SessionID string       `json:"sessionid"`
	Request   auth.Request `json:"request"`
	Remote    string       `json:"remote"`
}

type forwardedAnswer struct {
	Response *auth.Response `json:"response,omitempty"`
	Code     string         `json:"code,omitempty"` // bad_step, too_many, internal
	Error    string         `json:"error,omitempty"`
}

// step runs a login step here or on the node that holds the login.
func (s *Server) step(ctx context.Context, sid string, req auth.Request, remote string) (auth.Response, error) {
	owner := auth.Owner(sid)
	if req.Step.Init != nil || sid == "" || owner == s.NodeID || s.Peers == nil {
		return s.Auth.Step(ctx, sid, req, remote)
	}
	addr, ok := s.Peers.PeerRPCAddr(owner)
	if !ok {
		// The node that held the login is gone: its in-flight logins went
		// with it, and the client starts again.
		return auth.Response{}, auth.ErrBadStep
	}
	body, err := json.Marshal(forwardedStep{SessionID: sid, Request: req, Remote: remote})
	if err != nil {
		return auth.Response{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, stepForwardTimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+RPCAuthStep, bytes.NewReader(body))
	if err != nil {
		return auth.Response{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := s.Peers.RPCClient().Do(hr)
	if err != nil {
		s.Log.Warn("forwarding a login step failed", "owner", owner, "error", err)
		return auth.Response{}, auth.ErrBadStep
	}
	defer resp.Body.Close()
	var ans forwardedAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil {
		return auth.Response{}, fmt.Errorf("forwarded login step: decode answer (HTTP %d): %w", resp.StatusCode, err)
	}
	switch {
	case ans.Code == "bad_step":
		return auth.Response{}, auth.ErrBadStep
	case ans.Code == "too_many":
		return auth.Response{}, auth.ErrTooMany
	case ans.Response == nil:
		return auth.Response{}, fmt.Errorf("forwarded login step on %s: %s", owner, ans.Error)
	}
	return *ans.Response, nil
}

// StepHandler serves login steps forwarded by other nodes; register it on
// the cluster channel at RPCAuthStep.
func (s *Server) StepHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in forwardedStep
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewDecoder(io.LimitReader(r.Body, MaxBody)).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(forwardedAnswer{Code: "bad_step", Error: "malformed forwarded step"})
			return
		}
		resp, err := s.Auth.Step(r.Context(), in.SessionID, in.Request, in.Remote)
		var ans forwardedAnswer
		switch {
		case errors.Is(err, auth.ErrBadStep):
			ans.Code = "bad_step"
		case errors.Is(err, auth.ErrTooMany):
			ans.Code = "too_many"
		case err != nil:
			s.Log.Error("forwarded login step failed", "error", err)
			ans.Code, ans.Error = "internal", "internal error"
		default:
			ans.Response = &resp
		}
		json.NewEncoder(w).Encode(ans)
	})
}
