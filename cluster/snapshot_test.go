package cluster

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// A snapshot saved from a follower restores through the leader.
func TestSnapshotSaveAndRestore(t *testing.T) {
	env := newTestEnv(t)
	n1 := soloCluster(t, env)
	n2 := env.start(env.config("n2", 0, n1.GossipAddr()))
	eventually(t, 10*time.Second, "n2 joins", func() bool { return n1.isMember("n2") && n2.HasState() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := n2.Apply(ctx, testCommand(t, "kept"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.WaitApplied(ctx, res.Index); err != nil {
		t.Fatal(err)
	}

	c2 := &Client{HTTP: n2.RPCClient(), Addr: n2.ClusterAddr()}
	rc, size, err := c2.Snapshot(ctx)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || int64(len(data)) != size {
		t.Fatalf("snapshot read %d of %d bytes: %v", len(data), size, err)
	}

	if _, err := n1.Apply(ctx, testCommand(t, "after-snapshot")); err != nil {
		t.Fatal(err)
	}
	if err := c2.Restore(ctx, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("restore via follower: %v", err)
	}
	for _, n := range []*Node{n1, n2} {
		sm := n.sm.(*testSM)
		eventually(t, 5*time.Second, n.cfg.NodeID+" restored", func() bool { return sm.has("kept") && !sm.has("after-snapshot") })
	}
	if err := c2.Restore(ctx, bytes.NewReader([]byte("garbage")), 7); err == nil {
		t.Fatal("restore of garbage succeeded")
	}
}
