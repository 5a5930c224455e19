package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// snapshotMagic starts every snapshot file; the next line is the JSON Raft
// snapshot metadata and the FSM's own bytes follow (the FSM adds its own
// header and checksum).
const snapshotMagic = "GATEHOUSE-SNAPSHOT 1\n"

// restoreTimeout bounds how long Raft may take to install a restore.
const restoreTimeout = 5 * time.Minute

// handleSnapshot streams a fresh snapshot of this node (or its latest one
// when nothing new was written since). Content-Length is set so that the
// CLI can show progress.
func (n *Node) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	meta, rc, err := n.openSnapshot()
	if err != nil {
		writeRaftErr(w, err)
		return
	}
	defer rc.Close()
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		writeRaftErr(w, fmt.Errorf("encode snapshot meta: %w", err))
		return
	}
	total := int64(len(snapshotMagic)+len(metaJSON)+1) + meta.Size
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(total, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, snapshotMagic)
	_, _ = w.Write(append(metaJSON, '\n'))
	if _, err := io.Copy(w, rc); err != nil {
		n.log.Warn("snapshot stream interrupted", "err", err)
	}
}

func (n *Node) openSnapshot() (*raft.SnapshotMeta, io.ReadCloser, error) {
	f := n.raft.Snapshot()
	err := f.Error()
	if err == nil {
		meta, rc, err := f.Open()
		if err != nil {
			return nil, nil, fmt.Errorf("open snapshot: %w", err)
		}
		return meta, rc, nil
	}
	if !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil, nil, fmt.Errorf("take snapshot: %w", err)
	}
	list, lerr := n.snaps.List()
	if lerr != nil || len(list) == 0 {
		return nil, nil, fmt.Errorf("take snapshot: %w (and no earlier snapshot: %v)", err, lerr)
	}
	meta, rc, err := n.snaps.Open(list[0].ID)
	if err != nil {
		return nil, nil, fmt.Errorf("open snapshot %s: %w", list[0].ID, err)
	}
	return meta, rc, nil
}

// handleRestore installs a snapshot stream through the leader with
// raft.Restore; followers pass the stream on to the leader.
func (n *Node) handleRestore(w http.ResponseWriter, r *http.Request) {
	if !n.IsLeader() {
		addr, _, err := n.waitLeader(r.Context())
		if err != nil {
			writeRaftErr(w, err)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "https://"+addr+"/rpc/restore", r.Body)
		if err != nil {
			writeRaftErr(w, err)
			return
		}
		req.ContentLength = r.ContentLength
		resp, err := n.rpcClient.Do(req)
		if err != nil {
			writeRaftErr(w, fmt.Errorf("forward restore to leader: %w", err))
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	br := bufio.NewReader(r.Body)
	meta, err := readSnapshotHeader(br)
	if err != nil {
		writeErr(w, http.StatusBadRequest, codeInvalid, "%v", err)
		return
	}
	if err := n.raft.Restore(meta, br, restoreTimeout); err != nil {
		writeRaftErr(w, fmt.Errorf("restore: %w", err))
		return
	}
	n.log.Warn("cluster state restored from snapshot", "snapshot_index", meta.Index, "size", meta.Size)
	writeJSON(w, http.StatusOK, map[string]any{"result": "restored", "last_index": n.raft.LastIndex()})
}

func readSnapshotHeader(br *bufio.Reader) (*raft.SnapshotMeta, error) {
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return nil, errors.New("not a gatehouse snapshot (bad header)")
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("snapshot metadata: %w", err)
	}
	var meta raft.SnapshotMeta
	if err := json.Unmarshal(line, &meta); err != nil {
		return nil, fmt.Errorf("snapshot metadata: %w", err)
	}
	return &meta, nil
}

// Client calls one node's cluster RPC; the CLI uses it with the node's own
// certificate.
type Client struct {
	HTTP *http.Client
	Addr string // cluster address of the node, host:port
}

// Status fetches the node's Status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := callRPC(ctx, c.HTTP, c.Addr, "/rpc/status", nil, &st, nil)
	return st, err
}

// Bootstrap makes a single-node cluster of the node.
func (c *Client) Bootstrap(ctx context.Context) error {
	return callRPC(ctx, c.HTTP, c.Addr, "/rpc/bootstrap", struct{}{}, nil, nil)
}

// Join asks the node to join the cluster of the member at memberAddr.
func (c *Client) Join(ctx context.Context, memberAddr string) error {
	return callRPC(ctx, c.HTTP, c.Addr, "/rpc/join-cluster", joinClusterRequest{Addr: memberAddr}, nil, nil)
}

// Leave makes the node leave the cluster.
func (c *Client) Leave(ctx context.Context) error {
	return callRPC(ctx, c.HTTP, c.Addr, "/rpc/leave", struct{}{}, nil, nil)
}

// Remove removes a node (usually a dead one) from the Raft configuration.
func (c *Client) Remove(ctx context.Context, nodeID string) error {
	return callRPC(ctx, c.HTTP, c.Addr, "/rpc/remove", removeRequest{ID: nodeID}, nil, nil)
}

// Snapshot opens a snapshot stream; size is -1 if unknown. The caller
// closes the reader.
func (c *Client) Snapshot(ctx context.Context) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+c.Addr+"/rpc/snapshot", nil)
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot: %w", err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot from %s: %w", c.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, 0, decodeRPCResponse(resp, "/rpc/snapshot", nil)
	}
	return resp.Body, resp.ContentLength, nil
}

// Restore streams a snapshot file (as written by Snapshot) into the
// cluster; size may be -1.
func (c *Client) Restore(ctx context.Context, r io.Reader, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+c.Addr+"/rpc/restore", r)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("restore to %s: %w", c.Addr, err)
	}
	defer resp.Body.Close()
	return decodeRPCResponse(resp, "/rpc/restore", nil)
}
