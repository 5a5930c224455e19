package oauth2

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Rule 5 for codes: a code is "<node id>.<random>" and lives in that
// node's memory. A token request carrying a code of another node is
// replayed whole on it over the cluster channel (the receiving end is
// protocols/api.Server.ForwardedHandler at /rpc/api/, which serves
// /oauth2/token from srv.Extra), and its answer is returned verbatim.

const (
	rpcAPI          = "/rpc/api"
	headerForwarded = "X-Gatehouse-Forwarded-By"
	forwardTimeout  = 10 * time.Second
	maxTokenBody    = 64 << 10
)

func (p *Provider) forwardCodes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || p.Peers == nil || r.Header.Get(headerForwarded) != "" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenBody))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "the request body could not be read"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		owner, found := codeOwner(form.Get("code"))
		if form.Get("grant_type") != "authorization_code" || !found || owner == p.NodeID {
			next.ServeHTTP(w, r)
			return
		}
		p.forward(w, r, owner, body)
	})
}

// codeOwner is the node id of a code "<node id>.<random>". The random part
// is base64url (no dot) while a node id may hold dots (a host name, the
// certificate's CN), so the id is everything before the last dot.
func codeOwner(code string) (string, bool) {
	i := strings.LastIndexByte(code, '.')
	if i <= 0 || i == len(code)-1 {
		return "", false
	}
	return code[:i], true
}

func (p *Provider) forward(w http.ResponseWriter, r *http.Request, owner string, body []byte) {
	addr, ok := p.Peers.PeerRPCAddr(owner)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant",
			"error_description": "the code was issued by node " + owner + ", which is no longer in the cluster"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer cancel()
	fr, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+rpcAPI+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	fr.Header = r.Header.Clone()
	fr.Header.Set(headerForwarded, p.NodeID)
	fr.Header.Set("X-Forwarded-For", r.RemoteAddr)
	fr.Header.Set("X-Forwarded-Host", r.Host)
	resp, err := p.Peers.RPCClient().Do(fr)
	if err != nil {
		p.Log.Warn("oauth2: forwarding a code exchange failed", "owner", owner, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "server_error",
			"error_description": "the node holding this code (" + owner + ") did not answer; retry"})
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "server_error"})
		return
	}
	for _, k := range []string{"Content-Type", "Cache-Control", "Pragma"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(raw)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
