package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-idm/gatehouse/ops/config"
)

// ErrNoLeader is returned (wrapped) when a write found no leader within
// Config.NoLeaderWait.
var ErrNoLeader = errors.New("no leader")

// StateMachine is what the node's FSM (package fsm) provides.
type StateMachine interface {
	// ApplyBatch returns one fsm.Result per log, also for configuration
	// entries, so that the applied index always advances.
	raft.BatchingFSM
	// AppliedIndex is the highest index applied to the store.
	AppliedIndex() uint64
	// WaitApplied blocks until index is applied or ctx ends.
	WaitApplied(ctx context.Context, index uint64) error
}

// Config is everything New needs.
type Config struct {
	NodeID  string
	DataDir string // raft.db and snapshots/ live here
	Cluster config.ClusterConfig
	// APIAddr is the node's public https URL, carried in gossip metadata so
	// that other nodes can name the leader's API to clients.
	APIAddr    string
	Registerer prometheus.Registerer // may be nil
	Logger     *slog.Logger

	// Test knobs: zero means production defaults (1 s, as in raft-design.md).
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration
	// NoLeaderWait is how long a write waits for a leader (default 5 s).
	NoLeaderWait time.Duration
	// PromoteAfter is how long a non-voter must be alive and caught up
	// before the leader makes it a voter (default 5 s; tests shorten it).
	PromoteAfter time.Duration
	// GossipFast selects memberlist's local-network timings (tests).
	GossipFast bool
}

// Version is carried in gossip metadata for operators.
const Version = "0.1.0"

// Node is one running cluster member.
type Node struct {
	cfg     Config
	log     *slog.Logger
	sm      StateMachine
	cert    *tls.Certificate
	ca      *x509.CertPool
	cid     string // cluster id
	advAddr string // cluster (Raft + RPC) address others dial

	mux       *muxListener
	rpcSrv    *http.Server
	rpcMux    *http.ServeMux
	rpcClient *http.Client
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
	snaps     *raft.FileSnapshotStore
	raft      *raft.Raft
	ml        *memberlist.Memberlist
	gossip    *gossipDelegate

	hasState atomic.Bool
	left     atomic.Bool // Leave ran: no more gossip or join work
	notify   chan bool
	leaderCh chan bool
	reads    *readIndexer
	metrics  *metrics

	stop     chan struct{}
	fwd      *forwarder
	wg       sync.WaitGroup
	shutOnce sync.Once
	shutErr  error
}

func (c *Config) defaults() {
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = time.Second
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = time.Second
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = c.HeartbeatTimeout / 2
	}
	if c.NoLeaderWait == 0 {
		c.NoLeaderWait = 5 * time.Second
	}
	if c.PromoteAfter == 0 {
		c.PromoteAfter = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// New opens the Raft stores, starts the mTLS listener, Raft and memberlist,
// and then works in the background on bootstrap (BootstrapExpect), joining
// (Join) and, as leader, on promoting caught-up non-voters.
func New(cfg Config, sm StateMachine) (n *Node, err error) {
	cfg.defaults()
	if cfg.NodeID == "" || cfg.DataDir == "" {
		return nil, errors.New("cluster: node id and data dir are required")
	}
	cert, ca, err := LoadTLS(cfg.Cluster)
	if err != nil {
		return nil, err
	}
	if cn, err := certCN(cert); err != nil || cn != cfg.NodeID {
		return nil, fmt.Errorf("cluster: certificate CN %q does not match node id %q (%v)", cn, cfg.NodeID, err)
	}
	cid, err := readClusterID(cfg.Cluster.ClusterIDFile)
	if err != nil {
		return nil, err
	}
	n = &Node{
		cfg: cfg, log: cfg.Logger.With("component", "cluster", "node", cfg.NodeID),
		sm: sm, cert: cert, ca: ca, cid: cid,
		rpcClient: NewRPCClient(cert, ca),
		leaderCh:  make(chan bool, 1),
		stop:      make(chan struct{}),
	}
	// On any failure below, release what was already started.
	defer func() {
		if err != nil {
			_ = n.Shutdown()
			n = nil
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return n, fmt.Errorf("cluster: create data dir: %w", err)
	}
	if err := n.startListener(); err != nil {
		return n, err
	}
	if err := n.startRaft(); err != nil {
		return n, err
	}
	n.reads = newReadIndexer(n)
	n.fwd = newForwarder(n)
	n.metrics = newMetrics(n, cfg.Registerer)
	if err := n.startGossip(); err != nil {
		return n, err
	}
	n.wg.Add(2)
	go n.watchLeadership()
	go n.membershipLoop()
	return n, nil
}

func readClusterID(path string) (string, error) {
	if path == "" {
		return "", errors.New("cluster: cluster_id_file is not set")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cluster: read cluster id: %w", err)
	}
	id := string(trimSpace(b))
	if id == "" {
		return "", fmt.Errorf("cluster: cluster id file %s is empty", path)
	}
	return id, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func (n *Node) startListener() error {
	ln, err := net.Listen("tcp", n.cfg.Cluster.Listen)
	if err != nil {
		return fmt.Errorf("cluster: listen on %s: %w", n.cfg.Cluster.Listen, err)
	}
	n.advAddr = n.cfg.Cluster.Advertise
	if n.advAddr == "" {
		// Listen may name port 0 (tests): advertise what we really got.
		n.advAddr = ln.Addr().String()
	}
	n.mux = newMuxListener(ln, serverTLSConfig(n.cert, n.ca), n.log)
	n.rpcMux = http.NewServeMux()
	n.registerRPC()
	n.rpcSrv = &http.Server{Handler: n.rpcMux, ReadHeaderTimeout: 10 * time.Second, ConnContext: rpcConnContext, ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelDebug)}
	go func() { _ = n.rpcSrv.Serve(n.mux.rpc) }()
	return nil
}

func (n *Node) startRaft() error {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	// A follower learns that an entry committed from the leader's next
	// message; when the leader is otherwise idle that comes CommitTimeout
	// later. 5 ms keeps a single writer's follower-side latency low at the
	// cost of ~200 small messages a second per idle follower.
	rc.CommitTimeout = min(5*time.Millisecond, n.cfg.HeartbeatTimeout/2)
	// The FSM keeps its own persistent state with its applied index, so a
	// restart must not replay a snapshot over it.
	rc.NoSnapshotRestoreOnStart = true
	rc.BatchApplyCh = true
	// Group commit: up to this many proposals share one log fsync.
	rc.MaxAppendEntries = 256
	rc.SnapshotThreshold = 8192
	rc.TrailingLogs = 10240
	if c := n.cfg.Cluster; c.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = c.SnapshotThreshold
	}
	if c := n.cfg.Cluster; c.TrailingLogs > 0 {
		rc.TrailingLogs = c.TrailingLogs
	}
	if c := n.cfg.Cluster; c.SnapshotIntervalMS > 0 {
		rc.SnapshotInterval = time.Duration(c.SnapshotIntervalMS) * time.Millisecond
	}
	// A removed node stays up so that its operator sees why; it just no
	// longer takes part.
	rc.ShutdownOnRemove = false
	rc.Logger = newHCLogger(n.log.With("component", "raft"))

	var err error
	n.store, err = raftboltdb.NewBoltStore(filepath.Join(n.cfg.DataDir, "raft.db"))
	if err != nil {
		return fmt.Errorf("cluster: open raft.db: %w", err)
	}
	n.snaps, err = raft.NewFileSnapshotStoreWithLogger(n.cfg.DataDir, 2, rc.Logger)
	if err != nil {
		return fmt.Errorf("cluster: open snapshot store: %w", err)
	}
	adv, err := net.ResolveTCPAddr("tcp", n.advAddr)
	if err != nil {
		return fmt.Errorf("cluster: advertise address %q: %w", n.advAddr, err)
	}
	stream := &streamLayer{subListener: n.mux.raft, advertise: adv, tlsCfg: clientTLSConfig(n.cert, n.ca, alpnRaft)}
	n.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: rc.Logger,
	})
	existing, err := raft.HasExistingState(n.store, n.store, n.snaps)
	if err != nil {
		return fmt.Errorf("cluster: inspect raft state: %w", err)
	}
	n.hasState.Store(existing)
	notify := make(chan bool, 8)
	rc.NotifyCh = notify
	// Recent entries stay in memory: the FSM loop and replication read
	// them back right after they were written, and each read from bolt
	// costs a lookup and a decode.
	logs, err := raft.NewLogCache(1024, n.store)
	if err != nil {
		return fmt.Errorf("cluster: log cache: %w", err)
	}
	n.raft, err = raft.NewRaft(rc, n.sm, logs, n.store, n.snaps, n.transport)
	if err != nil {
		return fmt.Errorf("cluster: start raft: %w", err)
	}
	n.notify = notify
	return nil
}

// watchLeadership relays Raft's leadership notifications to LeaderCh
// (latest value wins, so a slow consumer never blocks Raft) and makes a
// new leader commit an entry of its own term before serving ReadIndex.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case isLeader := <-n.notify:
			n.reads.leadershipChanged(isLeader)
			select {
			case <-n.leaderCh:
			default:
			}
			n.leaderCh <- isLeader
			n.log.Info("leadership changed", "leader", isLeader, "term", n.raft.CurrentTerm())
		}
	}
}

// IsLeader reports whether this node is the Raft leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderCh delivers this node's leadership changes (true when it becomes
// leader). Only the latest value is kept; there is one channel per node.
func (n *Node) LeaderCh() <-chan bool { return n.leaderCh }

// Leader returns the leader's node id and its public API address (from
// gossip); either may be empty.
func (n *Node) Leader() (id, apiAddr string) {
	_, lid := n.raft.LeaderWithID()
	if lid == "" {
		return "", ""
	}
	if m, ok := n.gossip.member(string(lid)); ok {
		return string(lid), m.API
	}
	if string(lid) == n.cfg.NodeID {
		return string(lid), n.cfg.APIAddr
	}
	return string(lid), ""
}

// HasState reports whether this node has Raft state (bootstrapped or
// joined and received the log).
func (n *Node) HasState() bool {
	if n.hasState.Load() {
		return true
	}
	if n.raft != nil && n.raft.LastIndex() > 0 {
		n.hasState.Store(true)
		return true
	}
	return false
}

// WaitApplied blocks until the local state machine applied index, bounded
// by ctx.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	if err := n.sm.WaitApplied(ctx, index); err != nil {
		return fmt.Errorf("wait for index %d: %w", index, err)
	}
	return nil
}

// HandleRPC registers an extra cluster-RPC endpoint, e.g. "/rpc/auth/step".
func (n *Node) HandleRPC(pattern string, h http.Handler) { n.rpcMux.Handle(pattern, h) }

// RPCClient is an mTLS client for other nodes' cluster RPC.
func (n *Node) RPCClient() *http.Client { return n.rpcClient }

// ClusterAddr is the address other nodes dial for Raft and the RPC.
func (n *Node) ClusterAddr() string { return n.advAddr }

// PeerRPCAddr returns the cluster address of a node in the Raft
// configuration, or failing that, in gossip.
func (n *Node) PeerRPCAddr(nodeID string) (string, bool) {
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if string(s.ID) == nodeID {
				return string(s.Address), true
			}
		}
	}
	if m, ok := n.gossip.member(nodeID); ok && m.Raft != "" {
		return m.Raft, true
	}
	return "", false
}

// PeerRPCAddrs returns the cluster addresses of every other node known to
// the Raft configuration or to gossip (for node-to-node events that need
// no Raft write, such as failed-login counts).
func (n *Node) PeerRPCAddrs() []string {
	seen := map[string]bool{n.advAddr: true}
	var out []string
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if a := string(s.Address); !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	for _, m := range n.gossip.members() {
		if m.Raft != "" && !seen[m.Raft] {
			seen[m.Raft] = true
			out = append(out, m.Raft)
		}
	}
	return out
}

// Shutdown stops this node without leaving the cluster: a restart is not
// a leave.
func (n *Node) Shutdown() error {
	n.shutOnce.Do(func() {
		close(n.stop)
		var errs []error
		if n.ml != nil {
			if err := n.ml.Shutdown(); err != nil {
				errs = append(errs, fmt.Errorf("stop gossip: %w", err))
			}
		}
		if n.raft != nil {
			if err := n.raft.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("stop raft: %w", err))
			}
		}
		if n.transport != nil {
			_ = n.transport.Close()
		}
		if n.rpcSrv != nil {
			_ = n.rpcSrv.Close()
		}
		if n.mux != nil {
			_ = n.mux.Close()
		}
		n.wg.Wait()
		if n.store != nil {
			if err := n.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close raft.db: %w", err))
			}
		}
		if n.metrics != nil {
			n.metrics.unregister()
		}
		n.rpcClient.CloseIdleConnections()
		n.shutErr = errors.Join(errs...)
	})
	return n.shutErr
}
