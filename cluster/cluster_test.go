package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func leaders(nodes ...*Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		if n.IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

func suffrageOf(t *testing.T, n *Node, id string) string {
	t.Helper()
	servers, err := n.configuration()
	if err != nil {
		return "error"
	}
	for _, s := range servers {
		if string(s.ID) == id {
			return suffrage(s.Suffrage)
		}
	}
	return "absent"
}

func voters(n *Node) []string {
	servers, _ := n.configuration()
	var ids []string
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			ids = append(ids, string(s.ID))
		}
	}
	slices.Sort(ids)
	return ids
}

// A three-node cluster formed by bootstrap-expect: one leader, writes
// through followers, ReadIndex, a fourth node that joins and is promoted,
// a leave, removal of a stopped node, and no leader once quorum is gone.
// startThree starts n1..n3 with bootstrap-expect 3 and waits for one
// leader among three voters.
func startThree(t *testing.T, env *testEnv) []*Node {
	t.Helper()
	n1 := env.start(env.config("n1", 3))
	n2 := env.start(env.config("n2", 3, n1.GossipAddr()))
	n3 := env.start(env.config("n3", 3, n1.GossipAddr()))
	all := []*Node{n1, n2, n3}
	eventually(t, 10*time.Second, "one leader among three voters", func() bool {
		return len(leaders(all...)) == 1 && slices.Equal(voters(n1), []string{"n1", "n2", "n3"})
	})
	return all
}

func TestClusterLifecycle(t *testing.T) {
	env := newTestEnv(t)
	all := startThree(t, env)
	leader := leaders(all...)[0]
	for _, n := range all {
		eventually(t, 3*time.Second, n.cfg.NodeID+" knows the leader", func() bool {
			id, api := n.Leader()
			return id == leader.cfg.NodeID && api == leader.cfg.APIAddr
		})
	}
	var follower *Node
	for _, n := range all {
		if n != leader {
			follower = n
			break
		}
	}

	t.Run("concurrent writes through a follower are batched and each gets its own index", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		const n = 200
		idx := make([]uint64, n)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := follower.Apply(ctx, testCommand(t, fmt.Sprintf("batch-%d", i)))
				if err != nil {
					errs <- err
					return
				}
				idx[i] = res.Index
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent forwarded apply: %v", err)
		}
		seen := map[uint64]bool{}
		for i, x := range idx {
			if x == 0 || seen[x] {
				t.Fatalf("write %d got index %d (zero or shared)", i, x)
			}
			seen[x] = true
		}
		for _, nd := range all {
			if err := nd.WaitApplied(ctx, slices.Max(idx)); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if !nd.sm.(*testSM).has(fmt.Sprintf("batch-%d", i)) {
					t.Fatalf("%s lacks batch-%d", nd.cfg.NodeID, i)
				}
			}
		}
	})

	t.Run("a write through a follower is applied on every node", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := follower.Apply(ctx, testCommand(t, "req-1"))
		if err != nil {
			t.Fatalf("apply via follower: %v", err)
		}
		if res.Index == 0 || res.Err != nil {
			t.Fatalf("unexpected result %+v", res)
		}
		for _, n := range all {
			if err := n.WaitApplied(ctx, res.Index); err != nil {
				t.Fatalf("%s: %v", n.cfg.NodeID, err)
			}
			if !n.sm.(*testSM).has("req-1") {
				t.Fatalf("%s lacks the write", n.cfg.NodeID)
			}
		}
		idx, err := follower.ConsistentIndex(ctx)
		if err != nil || idx < res.Index {
			t.Fatalf("consistent index on follower = %d, %v; want >= %d", idx, err, res.Index)
		}
		if got := follower.Status(); got.LeaderID != leader.cfg.NodeID || len(got.Members) != 3 || got.AppliedIndex < res.Index {
			t.Fatalf("status %+v", got)
		}
	})

	t.Run("a fourth node joins as non-voter, is promoted, then leaves", func(t *testing.T) {
		n4 := env.start(env.config("n4", 0, follower.GossipAddr()))
		eventually(t, 10*time.Second, "n4 in the configuration", func() bool { return suffrageOf(t, leader, "n4") != "absent" })
		eventually(t, 10*time.Second, "n4 promoted to voter", func() bool { return suffrageOf(t, leader, "n4") == "voter" })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n4.Leave(ctx); err != nil {
			t.Fatalf("leave: %v", err)
		}
		eventually(t, 5*time.Second, "n4 out of the configuration", func() bool {
			return slices.Equal(voters(leader), []string{"n1", "n2", "n3"}) && suffrageOf(t, leader, "n4") == "absent"
		})
		_ = n4.Shutdown()
	})

	t.Run("a stopped node is removed; with two of three down there is no leader", func(t *testing.T) {
		var stopped, survivor *Node
		for _, n := range all {
			if n != leader && stopped == nil {
				stopped = n
			} else if n != leader {
				survivor = n
			}
		}
		if err := stopped.Shutdown(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := &Client{HTTP: survivor.RPCClient(), Addr: survivor.ClusterAddr()}
		if err := c.Remove(ctx, stopped.cfg.NodeID); err != nil {
			t.Fatalf("remove %s through %s: %v", stopped.cfg.NodeID, survivor.cfg.NodeID, err)
		}
		want := []string{leader.cfg.NodeID, survivor.cfg.NodeID}
		slices.Sort(want)
		if got := voters(leader); !slices.Equal(got, want) {
			t.Fatalf("voters after remove = %v, want %v", got, want)
		}

		if err := leader.Shutdown(); err != nil {
			t.Fatalf("shutdown leader: %v", err)
		}
		eventually(t, 5*time.Second, "survivor loses the leader", func() bool { id, _ := survivor.Leader(); return id == "" })
		start := time.Now()
		_, err := survivor.Apply(ctx, testCommand(t, "req-lost"))
		if !errors.Is(err, ErrNoLeader) {
			t.Fatalf("apply without quorum: %v, want ErrNoLeader", err)
		}
		if waited := time.Since(start); waited < survivor.cfg.NoLeaderWait/2 || waited > 4*survivor.cfg.NoLeaderWait {
			t.Fatalf("waited %s for a leader, NoLeaderWait is %s", waited, survivor.cfg.NoLeaderWait)
		}
	})
}

// Restarting with the same command line never bootstraps a second time.
func TestRestartKeepsState(t *testing.T) {
	env := newTestEnv(t)
	cfg := env.config("solo", 1)
	n := env.start(cfg)
	eventually(t, 5*time.Second, "single-node bootstrap-expect elects itself", n.IsLeader)
	res, err := n.Apply(context.Background(), testCommand(t, "before-restart"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.Listen = n.ClusterAddr() // the configuration names this address
	n2 := env.start(cfg)
	if !n2.HasState() {
		t.Fatal("restarted node reports no raft state")
	}
	eventually(t, 5*time.Second, "restarted node leads again", n2.IsLeader)
	if n2.raft.LastIndex() < res.Index {
		t.Fatalf("last index %d < %d after restart", n2.raft.LastIndex(), res.Index)
	}
	if st := n2.Status(); len(st.Members) != 1 {
		t.Fatalf("members after restart: %+v", st.Members)
	}
}

// nodeName formats ids for sub-tests.
func nodeName(i int) string { return fmt.Sprintf("n%d", i) }

// A consistent read right after an election must not wait for a command:
// the leader's latest entries are a no-op and a barrier the FSM never sees.
func TestConsistentIndexAfterElection(t *testing.T) {
	env := newTestEnv(t)
	n := soloCluster(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	idx, err := n.ConsistentIndex(ctx)
	if err != nil {
		t.Fatalf("consistent index with no commands yet: %v", err)
	}
	if idx > n.sm.AppliedIndex() {
		t.Fatalf("index %d beyond applied %d", idx, n.sm.AppliedIndex())
	}
}

func TestTheLeaderLeavesGracefully(t *testing.T) {
	all := startThree(t, newTestEnv(t))
	old := leaders(all...)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := old.Leave(ctx); err != nil {
		t.Fatalf("the leader leaves: %v", err)
	}
	var rest []*Node
	for _, n := range all {
		if n != old {
			rest = append(rest, n)
		}
	}
	eventually(t, 10*time.Second, "a new leader with a two-voter configuration", func() bool {
		ls := leaders(rest...)
		return len(ls) == 1 && len(voters(ls[0])) == 2 && !slices.Contains(voters(ls[0]), old.cfg.NodeID)
	})
	res, err := rest[0].Apply(ctx, testCommand(t, "after-leave"))
	if err != nil || res.Err != nil {
		t.Fatalf("write after the leader left: %v %+v", err, res.Err)
	}
}
