// Package fsmtest has test fixtures for code above the FSM.
package fsmtest

import (
	"context"
	"sync"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/hashicorp/raft"
)

// Proposer is a one-node log in process: it encodes each command as Raft
// would carry it and applies it to the real FSM with ApplyBatch at the next
// index. It is the real apply path without a network. Hook, when set, runs
// before each proposal (tests use it to race another write in).
type Proposer struct {
	FSM   *fsm.FSM
	Hook  func(cmd fsm.Command)
	mu    sync.Mutex
	index uint64
}

// Apply implements idm.Proposer.
func (p *Proposer) Apply(_ context.Context, cmd fsm.Command) (fsm.Result, error) {
	if p.Hook != nil {
		p.Hook(cmd)
	}
	data, err := cmd.Encode()
	if err != nil {
		return fsm.Result{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.index < p.FSM.AppliedIndex() {
		p.index = p.FSM.AppliedIndex()
	}
	p.index++
	out := p.FSM.ApplyBatch([]*raft.Log{{Index: p.index, Term: 1, Type: raft.LogCommand, Data: data}})
	return out[0].(fsm.Result), nil
}
