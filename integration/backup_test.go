package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// newClusterFromPKI prepares n nodes whose cluster credentials are a copy
// of pki: what an operator does when rebuilding a lost cluster from its
// PKI backup (ca.pem/ca.key, gossip.key, encryption.key, cluster-id).
func newClusterFromPKI(t *testing.T, n int, pki string) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{t: t, Dir: dir, PKI: filepath.Join(dir, "pki")}
	if err := os.MkdirAll(c.PKI, 0o700); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(pki)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(pki, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.PKI, f.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.CA = filepath.Join(c.PKI, "ca.pem")
	for range n {
		c.AddNode()
	}
	t.Cleanup(c.StopAll)
	return c
}

// entryView is what must survive a backup: identity and memberships, not
// the bookkeeping (version, updated) that later writes move.
type entryView struct {
	Class, UUID, DisplayName, Created string
	Mail, Members, MemberOf           []string
	HasPassword, Builtin              bool
}

// fullState lists every person, group and service account through cl.
func fullState(ctx context.Context, cl *apiclient.Client) (map[string]entryView, error) {
	out := map[string]entryView{}
	for _, list := range []func(context.Context) ([]apiclient.Entry, error){cl.ListPersons, cl.ListGroups, cl.ListServiceAccounts} {
		es, err := list(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if _, dup := out[e.Name]; dup {
				return nil, fmt.Errorf("name %s listed twice", e.Name)
			}
			v := entryView{Class: e.Class, UUID: e.UUID, DisplayName: e.DisplayName, Created: e.Created,
				Mail: sortedCopy(e.Mail), Members: sortedCopy(e.Members), MemberOf: sortedCopy(e.MemberOf), HasPassword: e.HasPassword, Builtin: e.Builtin}
			out[e.Name] = v
		}
	}
	return out, nil
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// diffStates describes how got differs from want ("" when equal).
func diffStates(want, got map[string]entryView) string {
	var d []string
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			d = append(d, "missing "+name)
		case fmt.Sprint(g) != fmt.Sprint(w):
			d = append(d, fmt.Sprintf("%s: want %+v, got %+v", name, w, g))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			d = append(d, "unexpected "+name)
		}
	}
	slices.Sort(d)
	return strings.Join(d[:min(len(d), 15)], "\n")
}

// snapshotIndex reads the applied index recorded inside a snapshot file:
// the file is the cluster header line, the Raft metadata line, then the
// FSM stream whose own header names the index its data is at.
func snapshotIndex(t *testing.T, path string) (raftIndex, appliedIndex uint64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("snapshot header: %v", err)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatalf("snapshot metadata: %v", err)
	}
	var meta struct{ Index uint64 }
	if err := json.Unmarshal(line, &meta); err != nil {
		t.Fatalf("snapshot metadata: %v", err)
	}
	h, err := fsm.ReadSnapshotHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	return meta.Index, h.AppliedIndex
}

func TestASnapshotSavedUnderWritesRestoresIntoAFreshClusterWithTheSamePKI(t *testing.T) {
	src := NewCluster(t, 3)
	startAll(t, src)
	leader := src.WaitHealthy()
	ctx := context.Background()
	admin, adminPw := src.Admin(leader, "idm_admin")

	// State that exists well before the backup.
	base := createPersons(t, admin, "base", 20)
	if _, err := admin.CreateGroup(ctx, "staff", "", base[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateGroup(ctx, "ops", "nested", []string{"staff", base[10]}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateServiceAccount(ctx, "robot", "Robot"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreatePerson(ctx, "pat", "Pat", []string{"pat@example.com"}); err != nil {
		t.Fatal(err)
	}
	const patPw = "juniper-Orbit-cascade-57"
	if err := admin.SetPassword(ctx, "pat", patPw); err != nil {
		t.Fatal(err)
	}

	// Save through a follower while writers run on every node.
	var clients []*apiclient.Client
	var via *Node
	for _, nd := range src.Nodes {
		clients = append(clients, src.Client(nd, admin.Token()))
		if nd != leader {
			via = nd
		}
	}
	ws := startWriters(t, clients, 4, "live")
	time.Sleep(700 * time.Millisecond)
	snap := filepath.Join(t.TempDir(), "backup.snap")
	if _, err := Gatehouse(t, "", "cluster", "snapshot", "save", "--config", via.Config, snap); err != nil {
		ws.Stop()
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	acks := ws.Stop()
	raftIdx, at := snapshotIndex(t, snap)
	t.Logf("snapshot: raft index %d, state at applied index %d", raftIdx, at)

	// The source at index `at` is its final state minus the creates that
	// committed after it (each 201 carries its commit index, so this is
	// exact; with no faults a write is never in doubt).
	var before, after []string
	for name, a := range acks {
		if a.Conflict || a.Index == 0 {
			t.Fatalf("write %s is in doubt (%+v); the expected state would not be exact", name, a)
		}
		if a.Index <= at {
			before = append(before, name)
		} else {
			after = append(after, name)
		}
	}
	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("the save did not happen under writes: %d creates before index %d, %d after", len(before), at, len(after))
	}
	t.Logf("%d live creates are in the snapshot, %d came after it", len(before), len(after))
	final := src.Client(via, admin.Token())
	final.ObserveIndex(maxIndex(acks, clients...))
	final.SetReadYourWrites(true)
	want, err := fullState(ctx, final)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range after {
		delete(want, name)
	}
	for name, v := range want {
		v.Members = slices.DeleteFunc(v.Members, func(m string) bool { return slices.Contains(after, m) })
		want[name] = v
	}
	for _, name := range append([]string{"pat", "staff", "ops", "robot"}, base...) {
		if _, ok := want[name]; !ok {
			t.Fatalf("the source lacks %s", name)
		}
	}

	// The source is lost; a new cluster is built with the same PKI backup
	// and the snapshot restored into it.
	src.StopAll()
	dst := newClusterFromPKI(t, 3, src.PKI)
	startAll(t, dst)
	dst.WaitHealthy()
	if _, err := Gatehouse(t, "", "cluster", "snapshot", "restore", "--config", dst.Nodes[0].Config, snap); err != nil {
		t.Fatal(err)
	}
	for _, nd := range dst.Nodes {
		// idm_admin's password from before the backup only works once the
		// node has applied the restore.
		cl := dst.Client(nd, "")
		Eventually(t, 30*time.Second, nd.ID+" accepts idm_admin's pre-backup password", func() bool {
			_, err := cl.LoginPrivileged(ctx, "idm_admin", adminPw)
			return err == nil
		})
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			got, err := fullState(ctx, cl)
			d := diffStates(want, got)
			if err == nil && d == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s after restore (err %v) differs from the source at index %d:\n%s", nd.ID, err, at, d)
			}
		}
		// A session token issued by the source before the backup verifies:
		// the signing keys travel in the snapshot, sealed under the same key.
		if self, err := dst.Client(nd, admin.Token()).Self(ctx); err != nil || self.Name != "idm_admin" {
			t.Fatalf("a pre-backup token on restored %s: %v %+v", nd.ID, err, self)
		}
		pat := dst.Login(nd, "pat", patPw)
		if self, err := pat.Self(ctx); err != nil || self.Name != "pat" || self.UUID != want["pat"].UUID {
			t.Fatalf("pat on restored %s: %v %+v", nd.ID, err, self)
		}
	}
	// The restored cluster takes writes.
	cl := dst.Login(dst.Nodes[1], "idm_admin", adminPw)
	if _, err := cl.CreatePerson(ctx, "after-restore", "", nil); err != nil {
		t.Fatalf("write on the restored cluster: %v", err)
	}
}
