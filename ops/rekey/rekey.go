// Package rekey rotates the cluster encryption key without downtime
// (`gatehouse cluster rotate-encryption-key`). The node that leads:
//
//  1. makes a new 32-byte key and gives it to every node for opening only
//     (each writes it into its key file, after the current key);
//  2. tells every node to seal with it (the new key moves first);
//  3. re-seals every sealed value in the state (seal.rotate commands);
//  4. tells every node to drop the other keys.
//
// Every node can open every value at every moment, so nothing stops. A
// node that cannot be reached in steps 1 or 2 stops the rotation before
// any value is re-sealed; the unused key it may have learnt is harmless.
package rekey

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/ops/config"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// Cluster-RPC paths served by Handler; register Handler at RPCPrefix.
const (
	RPCPrefix = "/rpc/rekey/"
	rpcAdd    = RPCPrefix + "add"
	rpcRetain = RPCPrefix + "retain"
)

// Peers reaches the other nodes over the cluster channel.
type Peers interface {
	PeerRPCAddrs() []string
	RPCClient() *http.Client
}

// Rotator runs rotations on this node and serves the peers' steps.
type Rotator struct {
	Sealer  *seal.Sealer
	KeyFile string
	Peers   Peers
	Svc     *idm.Service
	Log     *slog.Logger

	mu sync.Mutex // one rotation, or one step, at a time on this node
}

// Report says what a rotation did.
type Report struct {
	KeyID   string           `json:"key_id"`
	Nodes   int              `json:"nodes"`
	Reseal  idm.ResealReport `json:"reseal"`
	Retired bool             `json:"retired"`
	// Warning is set when the old key could not be dropped everywhere.
	Warning string `json:"warning,omitempty"`
}

type addRequest struct {
	Key     string `json:"key"` // base64; travels only over mutual TLS between nodes
	Current bool   `json:"current"`
}

type retainRequest struct {
	KeyID string `json:"key_id"`
}

const stepTimeout = 10 * time.Second

// Rotate makes a new key and moves the cluster to it.
func (r *Rotator) Rotate(ctx context.Context, actor idm.Actor) (Report, error) {
	if actor != idm.System && !r.Svc.IsSystemAdmin(actor) {
		return Report{}, idm.Forbidden("only members of system_admins may rotate the encryption key")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return Report{}, fmt.Errorf("new key: %w", err)
	}
	defer clear(key)
	rep := Report{KeyID: seal.IDOf(key).String()}
	peers := r.Peers.PeerRPCAddrs()
	rep.Nodes = 1 + len(peers)
	for _, current := range []bool{false, true} {
		if err := r.add(key, current); err != nil {
			return rep, fmt.Errorf("this node: %w", err)
		}
		body, _ := json.Marshal(addRequest{Key: base64.StdEncoding.EncodeToString(key), Current: current})
		if err := r.everyPeer(ctx, peers, rpcAdd, body); err != nil {
			step := "learn"
			if current {
				step = "switch to"
			}
			return rep, idm.Unavailable("the rotation needs every node; a node could not %s the new key: %v", step, err)
		}
		r.Log.Info("encryption key rotation", "key_id", rep.KeyID, "step", map[bool]string{false: "learnt", true: "sealing"}[current])
	}
	rs, err := r.Svc.Reseal(ctx, actor, r.Sealer)
	rep.Reseal = rs
	if err != nil {
		return rep, fmt.Errorf("re-seal under the new key (every node keeps the old key too, nothing is lost; run the rotation again): %w", err)
	}
	if err := r.retain(rep.KeyID); err != nil {
		return rep, fmt.Errorf("this node: %w", err)
	}
	body, _ := json.Marshal(retainRequest{KeyID: rep.KeyID})
	if err := r.everyPeer(ctx, peers, rpcRetain, body); err != nil {
		rep.Warning = fmt.Sprintf("the old key could not be dropped on every node (%v); it only opens values there, run the rotation again to finish", err)
	} else {
		rep.Retired = true
	}
	r.Log.Info("encryption key rotated", "key_id", rep.KeyID, "resealed", rs.Replaced, "retired", rep.Retired)
	return rep, nil
}

func (r *Rotator) everyPeer(ctx context.Context, peers []string, path string, body []byte) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, addr := range peers {
		wg.Go(func() {
			if err := r.post(ctx, addr, path, body); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", addr, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *Rotator) post(ctx context.Context, addr, path string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.Peers.RPCClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// add writes key into this node's key file (first when current) and then
// into its sealer, in that order: a restart must never lose a key the
// sealer has used.
func (r *Rotator) add(key []byte, current bool) error {
	keys, err := config.LoadKeyring(r.KeyFile)
	if err != nil {
		return err
	}
	id := seal.IDOf(key)
	var rest [][]byte
	for _, k := range keys {
		if seal.IDOf(k) != id {
			rest = append(rest, k)
		}
	}
	known := len(rest) < len(keys)
	switch {
	case current:
		keys = append([][]byte{key}, rest...)
	case !known:
		keys = append(keys, key)
	}
	if err := config.WriteKeyring(r.KeyFile, keys); err != nil {
		return err
	}
	return r.Sealer.Add(key, current)
}

// retain drops every key but the current one, which must be keyID.
func (r *Rotator) retain(keyID string) error {
	if got := r.Sealer.Current().String(); got != keyID {
		return fmt.Errorf("this node seals with key %s, not %s: not dropping anything", got, keyID)
	}
	keys, err := config.LoadKeyring(r.KeyFile)
	if err != nil {
		return err
	}
	if seal.IDOf(keys[0]).String() != keyID {
		return fmt.Errorf("the key file's first key is not %s: not dropping anything", keyID)
	}
	if err := config.WriteKeyring(r.KeyFile, keys[:1]); err != nil {
		return err
	}
	r.Sealer.Retain()
	return nil
}

// Handler serves the peers' steps on the cluster channel.
func (r *Rotator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+rpcAdd, func(w http.ResponseWriter, req *http.Request) {
		var in addRequest
		if err := json.NewDecoder(io.LimitReader(req.Body, 4096)).Decode(&in); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		key, err := base64.StdEncoding.DecodeString(in.Key)
		if err != nil || len(key) != 32 {
			http.Error(w, "the key must be 32 bytes of base64", http.StatusBadRequest)
			return
		}
		defer clear(key)
		r.mu.Lock()
		err = r.add(key, in.Current)
		r.mu.Unlock()
		if err != nil {
			r.Log.Error("encryption key rotation: storing the new key failed", "error", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		r.Log.Info("encryption key rotation: new key stored", "key_id", seal.IDOf(key).String(), "current", in.Current)
	})
	mux.HandleFunc("POST "+rpcRetain, func(w http.ResponseWriter, req *http.Request) {
		var in retainRequest
		if err := json.NewDecoder(io.LimitReader(req.Body, 4096)).Decode(&in); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		err := r.retain(in.KeyID)
		r.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		r.Log.Info("encryption key rotation: old keys dropped", "key_id", in.KeyID)
	})
	return mux
}
