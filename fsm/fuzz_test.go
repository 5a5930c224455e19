package fsm

import (
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzDecodeAndApply feeds arbitrary bytes as a log entry: decoding must
// not panic, and a command that decodes must be applied or refused, never
// crash the node. Unknown command types are excluded because they stop the
// process by design.
func FuzzDecodeAndApply(f *testing.F) {
	b := &logBuilder{t: f}
	f.Add(initLog(b).Data)
	f.Add([]byte(`{"v":1,"type":"entry.create","tv":1,"rid":"r","ts":1,"body":{"entry":{"uuid":"11111111-1111-4111-8111-111111111111","class":"person","name":"a"}}}`))
	f.Add([]byte(`{"v":1,"type":"entry.update","tv":1,"rid":"r2","ts":1,"body":{"entry":null}}`))
	f.Add([]byte(`{"v":1,"type":"denied_names.append","tv":1,"rid":"r3","ts":1,"body":{"names":["x"]}}`))
	f.Add([]byte(`{}`))
	fsm := openTest(f)
	var idx uint64
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := DecodeCommand(data)
		if err != nil {
			return
		}
		if _, known := fsm.handlers[handlerKey(cmd.Type, cmd.TypeVersion)]; !known {
			return
		}
		idx++
		res := fsm.ApplyBatch([]*raft.Log{{Index: idx, Type: raft.LogCommand, Data: data}})[0].(Result)
		if res.Index != idx && res.Err == nil {
			// Only a deduplicated request may answer with an older index.
			if _, err := DecodeCommand(data); err != nil {
				t.Fatalf("result index %d for log %d", res.Index, idx)
			}
		}
	})
}
