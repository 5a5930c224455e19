// Package fsm is the replicated state machine: the command envelope and its
// encoding, the handler table, deterministic Apply into a bbolt store, the
// in-memory indexes rebuilt from that store, and snapshot and restore.
//
// Apply never reads a clock, a random source, the environment or the
// network: everything such a command needs was filled in by the node that
// proposed it. Two nodes that apply the same log hold identical state.
// See DESIGN.md for the flows.
package fsm
