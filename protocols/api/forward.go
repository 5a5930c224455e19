package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/gatehouse-idm/gatehouse/idm"
)

// Short-lived handles other than logins (credential-update sessions, and
// whatever later protocols hold) also live on the node that made them
// (rule 5). Rather than one RPC per kind of handle, a request for a handle
// held elsewhere is replayed whole against the owner's own API over the
// cluster channel: the owner checks the token, the body and the rights
// exactly as if the client had reached it directly.

// RPCAPI is the cluster-RPC prefix under which a node serves forwarded
// API requests.
const RPCAPI = "/rpc/api"

// headerForwarded marks a forwarded request, so that it is never forwarded
// again (a handle whose owner lost it is simply gone).
const headerForwarded = "X-Gatehouse-Forwarded-By"

// ownerElsewhere reports whether the handle's owner is another node that
// this request should be forwarded to.
func (s *Server) ownerElsewhere(r *http.Request, owner string) bool {
	return owner != "" && owner != s.NodeID && s.Peers != nil && r.Header.Get(headerForwarded) == ""
}

// forwardTo replays r on node owner and returns its answer verbatim. Call
// it before reading the request body.
func (s *Server) forwardTo(owner string, r *http.Request) (result, error) {
	addr, ok := s.Peers.PeerRPCAddr(owner)
	if !ok {
		return result{}, idm.NotFound("this handle belonged to node %s, which is no longer in the cluster: start again", owner)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), stepForwardTimeout)
	defer cancel()
	u := "https://" + addr + RPCAPI + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	fr, err := http.NewRequestWithContext(ctx, r.Method, u, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	fr.Header = r.Header.Clone()
	fr.Header.Set(headerForwarded, s.NodeID)
	fr.Header.Set("X-Forwarded-For", r.RemoteAddr)
	fr.Header.Set("X-Forwarded-Host", r.Host)
	resp, err := s.Peers.RPCClient().Do(fr)
	if err != nil {
		s.Log.Warn("forwarding a request to its owner failed", "owner", owner, "path", r.URL.Path, "error", err)
		return result{}, idm.NotFound("this handle belongs to node %s, which did not answer: start again", owner)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8*MaxBody))
	if err != nil {
		return result{}, err
	}
	h := http.Header{}
	for k, vs := range resp.Header {
		switch k {
		case "Content-Length", "Date", "Strict-Transport-Security", "X-Content-Type-Options":
			continue
		}
		h[k] = vs
	}
	return result{status: resp.StatusCode, header: h, raw: raw}, nil
}

// ForwardedHandler serves requests forwarded by other nodes; register it on
// the cluster channel at RPCAPI + "/".
func (s *Server) ForwardedHandler(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.TrimPrefix(r.URL.Path, RPCAPI)
		r2.URL.RawPath = ""
		r2.RequestURI = r2.URL.RequestURI()
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			r2.Host = h
		}
		if ra := r.Header.Get("X-Forwarded-For"); ra != "" {
			r2.RemoteAddr = ra
		}
		if r2.Header.Get(headerForwarded) == "" {
			http.Error(w, "not a forwarded request", http.StatusBadRequest)
			return
		}
		api.ServeHTTP(w, r2)
	})
}
