package integration

import (
	"context"
	"testing"
	"time"
)

// The second way to form a cluster: bootstrap one node explicitly, then
// join the others to it with the operator commands.
func TestAnExplicitBootstrapThenJoinsFormsAThreeVoterCluster(t *testing.T) {
	c := NewCluster(t, 3)
	for _, nd := range c.Nodes {
		nd.WriteConfig(0, nil)
		nd.Start()
	}
	n1 := c.Nodes[0]
	// Nothing forms on its own: no node has state or expects peers.
	time.Sleep(2 * time.Second)
	if st, ok := n1.Status(); ok {
		t.Fatalf("a node without bootstrap serves: %+v", st)
	}
	Eventually(t, 20*time.Second, "n1 answers the cluster channel", func() bool {
		_, err := Gatehouse(t, "", "cluster", "bootstrap", "--config", n1.Config)
		return err == nil
	})
	if _, err := Gatehouse(t, "", "cluster", "bootstrap", "--config", n1.Config); err == nil {
		t.Fatal("a second bootstrap of the same node was accepted")
	}
	for _, nd := range c.Nodes[1:] {
		if out, err := Gatehouse(t, "", "cluster", "join", n1.ClusterAddr(), "--config", nd.Config); err != nil {
			t.Fatalf("join %s: %v\n%s", nd.ID, err, out)
		}
	}
	Eventually(t, 30*time.Second, "three voters", func() bool {
		m := raftMembers(statusViaCLI(t, n1))
		return len(m) == 3 && m["n1"] == "voter" && m["n2"] == "voter" && m["n3"] == "voter"
	})
	c.WaitHealthy()
	admin, _ := c.Admin(c.Nodes[2], "idm_admin")
	if _, err := admin.CreatePerson(context.Background(), "erin", "Erin", nil); err != nil {
		t.Fatalf("write through a joined node: %v", err)
	}
}
