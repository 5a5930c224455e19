package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

func TestThreeNodesFormOneClusterAndRestartWithoutRebootstrap(t *testing.T) {
	c := NewCluster(t, 3)
	c.StartAll()
	leader := c.WaitHealthy()
	var follower *Node
	for _, nd := range c.Nodes {
		if nd != leader {
			follower = nd
		}
	}
	ctx := context.Background()
	admin, _ := c.Admin(follower, "idm_admin")

	// A person created through a follower is readable on every node.
	alice, err := admin.CreatePerson(ctx, "alice", "Alice", []string{"alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	idx := admin.LastIndex()
	if idx == 0 {
		t.Fatal("the write response carried no index")
	}
	for _, nd := range c.Nodes {
		cl := c.Client(nd, admin.Token())
		cl.ObserveIndex(idx)
		cl.SetReadYourWrites(true)
		got, err := cl.GetPerson(ctx, "alice")
		if err != nil {
			t.Fatalf("read alice on %s with min index %d: %v", nd.ID, idx, err)
		}
		if got.UUID != alice.UUID || got.SPN != "alice@example.com" {
			t.Fatalf("%s returned %+v", nd.ID, got)
		}
	}

	// A node asked for an index it cannot reach answers 503 with a reason.
	far := c.Client(leader, admin.Token())
	far.ObserveIndex(idx + 1_000_000)
	far.SetReadYourWrites(true)
	if _, err := far.GetPerson(ctx, "alice"); !apiclient.IsStatus(err, http.StatusServiceUnavailable) {
		t.Fatalf("read at an unreachable index: want 503, got %v", err)
	}

	// All three restart with the same command lines: same cluster, data kept.
	before := map[string]string{}
	for _, nd := range c.Nodes {
		out, err := Gatehouse(t, "", "cluster", "status", "--json", "--config", nd.Config)
		if err != nil {
			t.Fatal(err)
		}
		before[nd.ID] = out
	}
	c.StopAll()
	for _, nd := range c.Nodes {
		nd.Start()
	}
	c.WaitHealthy()
	for _, nd := range c.Nodes {
		cl := c.Client(nd, admin.Token())
		got, err := cl.GetPerson(ctx, "alice")
		if err != nil || got.UUID != alice.UUID {
			t.Fatalf("after restart %s: %v %+v", nd.ID, err, got)
		}
		// The token issued before the restart still verifies: the signing
		// key is replicated state, not per-process.
		if _, err := cl.Self(ctx); err != nil {
			t.Fatalf("token after restart on %s: %v", nd.ID, err)
		}
	}
	st, err := Gatehouse(t, "", "cluster", "status", "--json", "--config", c.Nodes[0].Config)
	if err != nil {
		t.Fatal(err)
	}
	var members int
	for _, nd := range c.Nodes {
		if contains(st, fmt.Sprintf(`"id": %q`, nd.ID)) || contains(st, fmt.Sprintf(`"id":%q`, nd.ID)) {
			members++
		}
	}
	if members != 3 {
		t.Fatalf("after restart the cluster status does not list the three nodes:\n%s", st)
	}
	if cid := clusterID(t, before[c.Nodes[0].ID]); cid == "" || cid != clusterID(t, st) {
		t.Fatalf("cluster id changed across restart: %q vs %q", cid, clusterID(t, st))
	}

	// An operator profiles a node over the cluster channel.
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	if _, err := Gatehouse(t, "", "cluster", "profile", "--config", c.Nodes[0].Config, "--seconds", "1", prof); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(prof); err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("cluster profile wrote no gzipped pprof profile (%d bytes, %v)", len(b), err)
	}
}
