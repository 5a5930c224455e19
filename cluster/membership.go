package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// configChangeTimeout bounds one Raft configuration change.
const configChangeTimeout = 10 * time.Second

// promoteMaxLag is how many entries a non-voter may trail the leader's
// last index and still count as caught up.
const promoteMaxLag = 64

// membershipLoop does the background work of membership: joining gossip,
// keeping gossip metadata current, bootstrap-expect, automatic join and,
// on the leader, promotion of caught-up non-voters.
func (n *Node) membershipLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(max(50*time.Millisecond, min(n.cfg.HeartbeatTimeout/2, 500*time.Millisecond)))
	defer tick.Stop()
	advertised := n.HasState()
	var lastJoinAsk time.Time
	caughtUp := map[string]time.Time{}
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		if n.left.Load() {
			continue
		}
		if len(n.cfg.Cluster.Join) > 0 && n.ml.NumMembers() < 2 {
			if _, err := n.ml.Join(n.cfg.Cluster.Join); err != nil {
				n.log.Debug("gossip join failed, will retry", "join", n.cfg.Cluster.Join, "err", err)
			}
		}
		if has := n.HasState(); has != advertised {
			if err := n.ml.UpdateNode(time.Second); err == nil {
				advertised = has
			}
		}
		if !n.HasState() {
			if n.tryBootstrapExpect() {
				continue
			}
			if (len(n.cfg.Cluster.Join) > 0 || n.cfg.Cluster.BootstrapExpect > 0) && time.Since(lastJoinAsk) > 5*time.Second {
				if n.askToJoin() {
					lastJoinAsk = time.Now()
				}
			}
			continue
		}
		if n.IsLeader() {
			n.promote(caughtUp)
		} else {
			clear(caughtUp)
		}
	}
}

// tryBootstrapExpect forms a new cluster once BootstrapExpect members with
// our cluster id are alive and none has Raft state. Every one of them
// computes the same id-sorted configuration, so they all bootstrap the
// same cluster.
func (n *Node) tryBootstrapExpect() bool {
	want := n.cfg.Cluster.BootstrapExpect
	if want <= 0 {
		return false
	}
	var servers []raft.Server
	for _, m := range n.gossip.members() {
		if m.HasState {
			return false // a cluster exists already: join it instead
		}
		if m.Expect != want {
			continue
		}
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.ID), Address: raft.ServerAddress(m.Raft)})
	}
	if len(servers) != want {
		if len(servers) > want {
			n.log.Warn("more servers than bootstrap_expect see each other; not bootstrapping", "seen", len(servers), "expect", want)
		}
		return false
	}
	slices.SortFunc(servers, func(a, b raft.Server) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		n.log.Error("bootstrap failed", "err", err)
		return false
	}
	n.hasState.Store(true)
	n.log.Info("bootstrapped cluster", "servers", len(servers))
	return true
}

// BootstrapSelf makes a single-node cluster of this node; others then join.
func (n *Node) BootstrapSelf() error {
	if n.HasState() {
		return &RPCError{Status: http.StatusConflict, Code: codeConflict, Message: "node " + n.cfg.NodeID + " already has Raft state"}
	}
	cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.advAddr)}}}
	if err := n.raft.BootstrapCluster(cfg).Error(); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	n.hasState.Store(true)
	return nil
}

// askToJoin asks a gossip member that has Raft state to add this node.
func (n *Node) askToJoin() bool {
	for _, m := range n.gossip.members() {
		if !m.HasState || m.ID == n.cfg.NodeID {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.NoLeaderWait+5*time.Second)
		err := n.joinVia(ctx, m.Raft)
		cancel()
		if err == nil {
			n.log.Info("asked cluster to add this node", "via", m.ID)
			return true
		}
		n.log.Warn("join request failed", "via", m.ID, "err", err)
	}
	return false
}

// joinVia asks the member at addr to add this node as a non-voter and then
// joins gossip through the members it names.
func (n *Node) joinVia(ctx context.Context, addr string) error {
	var resp joinResponse
	if err := callRPC(ctx, n.rpcClient, addr, "/rpc/join", joinRequest{ID: n.cfg.NodeID, Addr: n.advAddr}, &resp, nil); err != nil {
		return err
	}
	if len(resp.Gossip) > 0 {
		if _, err := n.ml.Join(resp.Gossip); err != nil {
			return fmt.Errorf("join gossip: %w", err)
		}
	}
	return nil
}

// JoinCluster asks the cluster that the member at addr belongs to to add
// this node (the "cluster join ADDR" command).
func (n *Node) JoinCluster(ctx context.Context, addr string) error {
	if err := n.joinVia(ctx, addr); err != nil {
		return fmt.Errorf("join through %s: %w", addr, err)
	}
	return nil
}

func (n *Node) configuration() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("read raft configuration: %w", err)
	}
	return f.Configuration().Servers, nil
}

func (n *Node) isMember(id string) bool {
	servers, err := n.configuration()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(servers, func(s raft.Server) bool { return string(s.ID) == id })
}

// addNonvoter admits a node without a vote; promote gives it one later.
// Gossip alone never admits a node: only this authenticated RPC path does.
func (n *Node) addNonvoter(id, addr string) error {
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if string(s.ID) == id && string(s.Address) == addr {
			return nil // already in: joining twice is harmless
		}
	}
	if err := n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, configChangeTimeout).Error(); err != nil {
		return fmt.Errorf("add %s as non-voter: %w", id, err)
	}
	n.log.Info("added non-voter", "id", id, "addr", addr)
	return nil
}

func (n *Node) removeServer(id string) error {
	if !n.isMember(id) {
		return &RPCError{Status: http.StatusNotFound, Code: codeNotFound, Message: "node " + id + " is not in the raft configuration"}
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, configChangeTimeout).Error(); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	n.log.Info("removed server", "id", id)
	return nil
}

func (n *Node) gossipAddrs() []string {
	var out []string
	for _, m := range n.ml.Members() {
		out = append(out, net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))))
	}
	return out
}

// promote makes a non-voter a voter once it has been alive in gossip and
// within promoteMaxLag entries of the leader for PromoteAfter.
func (n *Node) promote(caughtUp map[string]time.Time) {
	servers, err := n.configuration()
	if err != nil {
		return
	}
	last := n.raft.LastIndex()
	for _, s := range servers {
		id := string(s.ID)
		if s.Suffrage != raft.Nonvoter {
			delete(caughtUp, id)
			continue
		}
		ok := n.gossip.healthOf(id) == "alive"
		if ok {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			var st Status
			err := callRPC(ctx, n.rpcClient, string(s.Address), "/rpc/status", nil, &st, nil)
			cancel()
			ok = err == nil && st.AppliedIndex+promoteMaxLag >= last
		}
		if !ok {
			delete(caughtUp, id)
			continue
		}
		since, seen := caughtUp[id]
		if !seen {
			caughtUp[id] = time.Now()
			continue
		}
		if time.Since(since) < n.cfg.PromoteAfter {
			continue
		}
		if err := n.raft.AddVoter(s.ID, s.Address, 0, configChangeTimeout).Error(); err != nil {
			n.log.Warn("promotion failed", "id", id, "err", err)
			continue
		}
		delete(caughtUp, id)
		n.log.Info("promoted to voter", "id", id)
	}
}

// Leave removes this node from the cluster for good: it hands leadership
// over if it has it, has the leader remove it from the configuration, then
// leaves gossip. Raft keeps running, now outside the cluster, until
// Shutdown.
func (n *Node) Leave(ctx context.Context) error {
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	voters := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if n.IsLeader() {
		if voters < 2 {
			return &RPCError{Status: http.StatusConflict, Code: codeConflict, Message: "the last voter cannot leave; stop it instead"}
		}
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			return fmt.Errorf("leave: transfer leadership: %w", err)
		}
	}
	if n.isMember(n.cfg.NodeID) {
		if err := n.forwardToLeader(ctx, "/rpc/remove", removeRequest{ID: n.cfg.NodeID}, nil, nil); err != nil {
			return fmt.Errorf("leave: remove self: %w", err)
		}
	}
	n.left.Store(true)
	if err := n.ml.Leave(2 * time.Second); err != nil {
		n.log.Warn("gossip leave", "err", err)
	}
	if err := n.ml.Shutdown(); err != nil {
		return fmt.Errorf("leave: stop gossip: %w", err)
	}
	n.log.Info("left the cluster")
	return nil
}
