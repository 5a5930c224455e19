package cluster

import (
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// Status is a snapshot of this node's view of the cluster.
type Status struct {
	NodeID             string   `json:"node_id"`
	ClusterID          string   `json:"cluster_id"`
	State              string   `json:"state"` // Leader, Follower, Candidate, Shutdown
	LeaderID           string   `json:"leader_id,omitempty"`
	LeaderAddr         string   `json:"leader_addr,omitempty"`
	LeaderAPI          string   `json:"leader_api,omitempty"`
	Term               uint64   `json:"term"`
	CommitIndex        uint64   `json:"commit_index"`
	AppliedIndex       uint64   `json:"applied_index"` // applied to the store
	LastIndex          uint64   `json:"last_index"`
	LastContact        string   `json:"last_contact,omitempty"` // RFC 3339; empty on the leader or before any contact
	LastContactSeconds float64  `json:"last_contact_seconds"`
	HasState           bool     `json:"has_state"`
	Members            []Member `json:"members"`
}

// Member is one node as seen from here: from the Raft configuration and,
// for health and API address, from gossip.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr,omitempty"`
	Suffrage string `json:"suffrage"` // voter, nonvoter, staging, or none (gossip only)
	Gossip   string `json:"gossip"`   // alive, suspect, failed, left, unknown
	Leader   bool   `json:"leader,omitempty"`
}

// Status reports this node's Raft and membership state.
func (n *Node) Status() Status {
	laddr, lid := n.raft.LeaderWithID()
	st := Status{
		NodeID: n.cfg.NodeID, ClusterID: n.cid, State: n.raft.State().String(),
		LeaderID: string(lid), LeaderAddr: string(laddr),
		Term: n.raft.CurrentTerm(), CommitIndex: n.raft.CommitIndex(),
		AppliedIndex: n.sm.AppliedIndex(), LastIndex: n.raft.LastIndex(),
		HasState: n.HasState(),
	}
	_, st.LeaderAPI = n.Leader()
	if lc := n.raft.LastContact(); !lc.IsZero() && !n.IsLeader() {
		st.LastContact = lc.UTC().Format(time.RFC3339Nano)
		st.LastContactSeconds = time.Since(lc).Seconds()
	}
	seen := map[string]bool{}
	servers, _ := n.configuration()
	for _, s := range servers {
		m := Member{ID: string(s.ID), RaftAddr: string(s.Address), Suffrage: suffrage(s.Suffrage), Gossip: n.gossip.healthOf(string(s.ID)), Leader: s.ID == lid}
		if meta, ok := n.gossip.member(m.ID); ok {
			m.APIAddr = meta.API
		}
		seen[m.ID] = true
		st.Members = append(st.Members, m)
	}
	for _, meta := range n.gossip.members() {
		if !seen[meta.ID] {
			st.Members = append(st.Members, Member{ID: meta.ID, RaftAddr: meta.Raft, APIAddr: meta.API, Suffrage: "none", Gossip: n.gossip.healthOf(meta.ID)})
		}
	}
	slices.SortFunc(st.Members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return st
}

func suffrage(s raft.ServerSuffrage) string {
	switch s {
	case raft.Voter:
		return "voter"
	case raft.Nonvoter:
		return "nonvoter"
	default:
		return "staging"
	}
}
