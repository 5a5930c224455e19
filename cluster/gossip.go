package cluster

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/hashicorp/memberlist"
)

// memberMeta is what each node tells the others through gossip. It must
// stay under memberlist's 512-byte metadata limit.
type memberMeta struct {
	ID       string `json:"id"`
	Raft     string `json:"raft"` // cluster address: Raft and RPC
	API      string `json:"api,omitempty"`
	Cluster  string `json:"cid"`
	Expect   int    `json:"expect,omitempty"`
	HasState bool   `json:"state,omitempty"`
	Version  string `json:"ver"`
}

// gossipDelegate implements memberlist's Delegate, AliveDelegate,
// MergeDelegate and EventDelegate for one node.
type gossipDelegate struct {
	n *Node

	mu     sync.Mutex
	health map[string]string // node name -> alive, suspect, failed, left
}

func (n *Node) localMeta() memberMeta {
	return memberMeta{
		ID: n.cfg.NodeID, Raft: n.advAddr, API: n.cfg.APIAddr, Cluster: n.cid,
		Expect: n.cfg.Cluster.BootstrapExpect, HasState: n.HasState(), Version: Version,
	}
}

func (d *gossipDelegate) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(d.n.localMeta())
	if len(b) > limit {
		d.n.log.Error("gossip metadata too large", "size", len(b), "limit", limit)
		return nil
	}
	return b
}

func (d *gossipDelegate) NotifyMsg([]byte)                           {}
func (d *gossipDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *gossipDelegate) LocalState(join bool) []byte                { return nil }
func (d *gossipDelegate) MergeRemoteState(buf []byte, join bool)     {}

// check refuses members of another cluster. The gossip key and label keep
// strangers out already; this also catches a copied key used for a second
// cluster.
func (d *gossipDelegate) check(peer *memberlist.Node) error {
	var m memberMeta
	if err := json.Unmarshal(peer.Meta, &m); err != nil {
		return fmt.Errorf("member %s: unreadable metadata: %w", peer.Name, err)
	}
	if m.Cluster != d.n.cid {
		return fmt.Errorf("member %s belongs to cluster %q, not %q", peer.Name, m.Cluster, d.n.cid)
	}
	if m.ID != peer.Name {
		return fmt.Errorf("member %s claims node id %q", peer.Name, m.ID)
	}
	return nil
}

func (d *gossipDelegate) NotifyAlive(peer *memberlist.Node) error { return d.check(peer) }

func (d *gossipDelegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, p := range peers {
		if err := d.check(p); err != nil {
			return err
		}
	}
	return nil
}

func (d *gossipDelegate) setHealth(name, h string) {
	d.mu.Lock()
	d.health[name] = h
	d.mu.Unlock()
}

func (d *gossipDelegate) NotifyJoin(node *memberlist.Node)   { d.setHealth(node.Name, "alive") }
func (d *gossipDelegate) NotifyUpdate(node *memberlist.Node) { d.setHealth(node.Name, "alive") }
func (d *gossipDelegate) NotifyLeave(node *memberlist.Node) {
	if node.State == memberlist.StateLeft {
		d.setHealth(node.Name, "left")
	} else {
		d.setHealth(node.Name, "failed")
	}
}

// healthOf is a node's gossip health: alive, suspect, failed, left or
// unknown.
func (d *gossipDelegate) healthOf(name string) string {
	if d.n.ml != nil {
		for _, m := range d.n.ml.Members() {
			if m.Name == name {
				if m.State == memberlist.StateSuspect {
					return "suspect"
				}
				return "alive"
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if h, ok := d.health[name]; ok && h != "alive" {
		return h
	}
	return "unknown"
}

// healthCounts counts known members by gossip health (for metrics).
func (d *gossipDelegate) healthCounts() map[string]int {
	out := map[string]int{"alive": 0, "suspect": 0, "failed": 0, "left": 0}
	d.mu.Lock()
	names := make([]string, 0, len(d.health))
	for name := range d.health {
		names = append(names, name)
	}
	d.mu.Unlock()
	for _, name := range names {
		out[d.healthOf(name)]++
	}
	return out
}

// member returns the metadata of an alive (or suspect) member.
func (d *gossipDelegate) member(id string) (memberMeta, bool) {
	for _, m := range d.members() {
		if m.ID == id {
			return m, true
		}
	}
	return memberMeta{}, false
}

// members lists the metadata of every alive or suspect member, self
// included.
func (d *gossipDelegate) members() []memberMeta {
	if d == nil || d.n.ml == nil {
		return nil
	}
	var out []memberMeta
	for _, m := range d.n.ml.Members() {
		var meta memberMeta
		if json.Unmarshal(m.Meta, &meta) == nil && meta.Cluster == d.n.cid {
			out = append(out, meta)
		}
	}
	return out
}

func readGossipKey(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("cluster: gossip_key is not set; gossip must be encrypted")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: read gossip key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(string(trimSpace(b)))
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip key %s is not base64: %w", path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("cluster: gossip key %s holds %d bytes, want 32", path, len(key))
	}
	return key, nil
}

func (n *Node) startGossip() error {
	key, err := readGossipKey(n.cfg.Cluster.GossipKey)
	if err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(n.cfg.Cluster.GossipListen)
	if err != nil {
		return fmt.Errorf("cluster: gossip_listen %q: %w", n.cfg.Cluster.GossipListen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("cluster: gossip_listen port %q: %w", portStr, err)
	}
	mc := memberlist.DefaultLANConfig()
	if n.cfg.GossipFast {
		mc = memberlist.DefaultLocalConfig()
	}
	mc.Name = n.cfg.NodeID
	mc.BindAddr = host
	mc.BindPort = port
	mc.AdvertisePort = port
	mc.SecretKey = key
	mc.Label = n.cid
	n.gossip = &gossipDelegate{n: n, health: map[string]string{}}
	mc.Delegate = n.gossip
	mc.Alive = n.gossip
	mc.Merge = n.gossip
	mc.Events = n.gossip
	mc.Logger = newStdLogger(n.log.With("component", "memberlist"))
	ml, err := memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("cluster: start gossip on %s: %w", n.cfg.Cluster.GossipListen, err)
	}
	n.ml = ml
	return nil
}

// GossipAddr is the address other nodes can Join through.
func (n *Node) GossipAddr() string {
	ln := n.ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
}
