// Package cluster runs a node's replication machinery: the Raft log
// (hashicorp/raft over raft-boltdb/v2), gossip membership (memberlist),
// bootstrap, join, promotion, leave and remove, leader forwarding of writes,
// ReadIndex for consistent reads, and the cluster channel — one mutual-TLS
// listener that carries both Raft and the cluster RPC, told apart by ALPN.
//
// The state machine itself lives in package fsm; this package only needs
// the StateMachine interface. See DESIGN.md for the flows and decisions.
package cluster
