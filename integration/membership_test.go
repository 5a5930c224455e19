package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/cluster"
	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// statusViaCLI runs `gatehouse cluster status --json` against nd, as an
// operator would.
func statusViaCLI(t *testing.T, nd *Node) cluster.Status {
	t.Helper()
	out, err := Gatehouse(t, "", "cluster", "status", "--json", "--config", nd.Config)
	if err != nil {
		t.Fatal(err)
	}
	var st cluster.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("cluster status output is not JSON: %v\n%s", err, out)
	}
	return st
}

// raftMembers maps the ids in the Raft configuration to their suffrage;
// gossip-only members (suffrage "none") are left out.
func raftMembers(st cluster.Status) map[string]string {
	m := map[string]string{}
	for _, mem := range st.Members {
		if mem.Suffrage != "none" {
			m[mem.ID] = mem.Suffrage
		}
	}
	return m
}

// snapshotIndexes lists the Raft indexes of the snapshots in a node's data
// directory (raft's file snapshot store keeps data/snapshots/<id>/meta.json).
func snapshotIndexes(t *testing.T, nd *Node) []uint64 {
	t.Helper()
	metas, _ := filepath.Glob(filepath.Join(nd.DataDir(), "snapshots", "*", "meta.json"))
	var out []uint64
	for _, p := range metas {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a snapshot being written or reaped
		}
		var meta struct{ Index uint64 }
		if json.Unmarshal(b, &meta) == nil {
			out = append(out, meta.Index)
		}
	}
	return out
}

// createPersons creates count persons named prefix-NNN through cl with a
// few goroutines.
func createPersons(t *testing.T, cl *apiclient.Client, prefix string, count int) []string {
	t.Helper()
	names := make([]string, count)
	errs := make(chan error, count)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < count; i += 4 {
				names[i] = fmt.Sprintf("%s-%03d", prefix, i)
				if _, err := cl.CreatePerson(context.Background(), names[i], "", nil); err != nil {
					errs <- fmt.Errorf("create %s: %w", names[i], err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return names
}

func TestAFourthNodeJoinsFromASnapshotThenLeavesAndADeadNodeIsRemoved(t *testing.T) {
	c := NewCluster(t, 3)
	// The first three compact their logs aggressively, so that a node joining
	// later cannot be served from the log and must install a snapshot.
	const trailing = 8
	c.ClusterExtra = fmt.Sprintf("snapshot_threshold = 32\ntrailing_logs = %d\nsnapshot_interval_ms = 200", trailing)
	startAll(t, c)
	leader := c.WaitHealthy()
	ctx := context.Background()
	admin, _ := c.Admin(leader, "idm_admin")
	names := createPersons(t, admin, "early", 150)
	if _, err := admin.CreateGroup(ctx, "crew", "joined before n4", names[:5]); err != nil {
		t.Fatal(err)
	}
	top := admin.LastIndex()

	// The leader's log no longer starts at 1: a snapshot covers more than the
	// trailing entries it keeps.
	Eventually(t, 20*time.Second, leader.ID+" compacts its log", func() bool {
		return slices.ContainsFunc(snapshotIndexes(t, leader), func(i uint64) bool { return i > trailing+64 })
	})

	// n4 keeps the default compaction settings, under which it would not
	// take a snapshot of its own for thousands of entries: any snapshot in
	// its data directory was installed from the leader.
	c.ClusterExtra = ""
	n4 := c.AddNode()
	n4.WriteConfig(0, nil)
	n4.Start()
	Eventually(t, 20*time.Second, "n4 answers its cluster RPC", func() bool {
		_, err := Gatehouse(t, "", "cluster", "status", "--config", n4.Config)
		return err == nil
	})
	var via *Node // a follower, so the join is forwarded to the leader
	for _, nd := range c.Nodes[:3] {
		if nd != leader {
			via = nd
		}
	}
	if _, err := Gatehouse(t, "", "cluster", "join", "--config", n4.Config, via.ClusterAddr()); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, "n4 is promoted to voter", func() bool {
		return raftMembers(statusViaCLI(t, leader))["n4"] == "voter"
	})
	list := personsAt(t, c, n4, admin.Token(), top, 20*time.Second)
	have := map[string]bool{}
	for _, e := range list {
		have[e.Name] = true
	}
	for _, n := range names {
		if !have[n] {
			t.Fatalf("n4 lacks %s after joining", n)
		}
	}
	crew, err := c.Client(n4, admin.Token()).GetGroup(ctx, "crew")
	if err != nil || len(crew.Members) != 5 {
		t.Fatalf("group crew on n4: %v %+v", err, crew)
	}
	if idx := snapshotIndexes(t, n4); len(idx) == 0 {
		t.Fatal("n4 caught up but holds no snapshot: it did not install one from the leader")
	} else {
		t.Logf("n4 installed a snapshot at index %v (last write %d)", idx, top)
	}

	// n4 leaves for good: the configuration shrinks back to three voters.
	if _, err := Gatehouse(t, "", "cluster", "leave", "--config", n4.Config); err != nil {
		t.Fatal(err)
	}
	want3 := map[string]string{"n1": "voter", "n2": "voter", "n3": "voter"}
	Eventually(t, 15*time.Second, "the configuration is n1, n2, n3 after n4 left", func() bool {
		return fmt.Sprint(raftMembers(statusViaCLI(t, c.Nodes[0]))) == fmt.Sprint(want3)
	})
	n4.Stop()

	// A stopped node is removed by the operator from another node.
	leader = c.WaitHealthy(c.Nodes[:3]...)
	var victim, other *Node
	for _, nd := range c.Nodes[:3] {
		switch {
		case nd == leader:
		case victim == nil:
			victim = nd
		default:
			other = nd
		}
	}
	victim.Stop()
	if _, err := Gatehouse(t, "", "cluster", "remove", "--config", other.Config, victim.ID); err != nil {
		t.Fatal(err)
	}
	want2 := map[string]string{leader.ID: "voter", other.ID: "voter"}
	for _, nd := range []*Node{leader, other} {
		Eventually(t, 15*time.Second, fmt.Sprintf("%s sees the configuration %v", nd.ID, want2), func() bool {
			return fmt.Sprint(raftMembers(statusViaCLI(t, nd))) == fmt.Sprint(want2)
		})
	}
	// Two voters of two: writes go on.
	wcl := c.Client(other, admin.Token())
	after, err := wcl.CreatePerson(ctx, "after-remove", "", nil)
	if err != nil {
		t.Fatalf("write after removing %s: %v", victim.ID, err)
	}
	for _, nd := range []*Node{leader, other} {
		cl := c.Client(nd, admin.Token())
		cl.ObserveIndex(wcl.LastIndex())
		cl.SetReadYourWrites(true)
		if got, err := cl.GetPerson(ctx, "after-remove"); err != nil || got.UUID != after.UUID {
			t.Fatalf("read after-remove on %s: %v %+v", nd.ID, err, got)
		}
	}
}

// rogue prepares a node outside c.Nodes (so the harness does not count it
// as a member) whose config is a real node's config with some files
// swapped: swap maps a path in the real config to the rogue's own.
func rogue(t *testing.T, c *Cluster, id, certPKI string, join []string, swap map[string]string) *Node {
	t.Helper()
	nd := &Node{c: c, ID: id, Dir: filepath.Join(c.Dir, id), APIPort: freePort(t), ClusterPort: freePort(t), GossipPort: freePort(t)}
	if err := os.MkdirAll(nd.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	nd.Config = filepath.Join(nd.Dir, "gatehouse.toml")
	nd.Log = filepath.Join(nd.Dir, "server.log")
	if _, err := Gatehouse(t, "", "cluster", "cert", "--ca-dir", certPKI, "--node-id", id, "--host", "localhost", "--host", "127.0.0.1",
		"--out-cert", filepath.Join(nd.Dir, "node.pem"), "--out-key", filepath.Join(nd.Dir, "node.key")); err != nil {
		t.Fatal(err)
	}
	nd.WriteConfig(0, join)
	b, err := os.ReadFile(nd.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for from, to := range swap {
		if !strings.Contains(cfg, from) {
			t.Fatalf("config of %s does not mention %s", id, from)
		}
		cfg = strings.ReplaceAll(cfg, from, to)
	}
	if err := os.WriteFile(nd.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nd.Stop)
	return nd
}

func TestNodesWithAForeignCertificateOrWrongGossipKeyCannotJoin(t *testing.T) {
	c := NewCluster(t, 3)
	startAll(t, c)
	c.WaitHealthy()
	other := filepath.Join(c.Dir, "other-pki")
	if _, err := Gatehouse(t, "", "cluster", "init", other); err != nil {
		t.Fatal(err)
	}
	var join []string
	for _, nd := range c.Nodes {
		join = append(join, nd.GossipAddr())
	}
	pki := func(f string) string { return filepath.Join(c.PKI, f) }
	otherPKI := func(f string) string { return filepath.Join(other, f) }

	// Everything from a second `cluster init`, pointed at our join list.
	foreign := rogue(t, c, "foreign", other, join, map[string]string{c.PKI: other})
	// A certificate from our CA, but another gossip key.
	noKey := rogue(t, c, "nokey", c.PKI, join, map[string]string{pki("gossip.key"): otherPKI("gossip.key")})
	// Worst case: a foreign certificate but our gossip key and cluster id
	// (say, a stolen config file): gossip lets it in, mTLS must keep it out
	// of Raft.
	stolen := rogue(t, c, "stolen", other, join, nil)
	for _, nd := range []*Node{foreign, noKey, stolen} {
		nd.Start()
	}

	// stolen does ask to be admitted (the test would prove nothing if it
	// never tried) and is refused.
	Eventually(t, 20*time.Second, "stolen's join request is refused", func() bool {
		b, _ := os.ReadFile(stolen.Log)
		return bytes.Contains(b, []byte("join request failed"))
	})
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		for _, nd := range c.Nodes {
			st := statusViaCLI(t, nd)
			for _, m := range st.Members {
				switch {
				case m.ID == stolen.ID && m.Suffrage != "none":
					t.Fatalf("%s admitted %s to the Raft configuration as %s", nd.ID, m.ID, m.Suffrage)
				case m.ID == foreign.ID || m.ID == noKey.ID:
					t.Fatalf("%s lists %s in its cluster status: %+v", nd.ID, m.ID, m)
				}
			}
			if len(raftMembers(st)) != 3 {
				t.Fatalf("%s has Raft members %v", nd.ID, raftMembers(st))
			}
		}
		time.Sleep(time.Second)
	}
	for _, m := range statusViaCLI(t, c.Nodes[0]).Members {
		if m.ID == stolen.ID {
			t.Logf("with our gossip key, %s is visible to gossip only: %+v", stolen.ID, m)
		}
	}
	for _, nd := range []*Node{foreign, noKey, stolen} {
		if st, ok := nd.Status(); ok || st.Leader != "" {
			t.Fatalf("%s serves as a cluster member: %+v", nd.ID, st)
		}
		if !nd.Running() {
			t.Fatalf("%s exited; it should keep trying (and failing) to join", nd.ID)
		}
	}

	// Direct attempts with the foreign certificate. The client trusts our
	// CA, so any failure is the server refusing the client certificate.
	rogueCert, err := tls.LoadX509KeyPair(filepath.Join(foreign.Dir, "node.pem"), filepath.Join(foreign.Dir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	realCert, err := tls.LoadX509KeyPair(filepath.Join(c.Nodes[1].Dir, "node.pem"), filepath.Join(c.Nodes[1].Dir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(c.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	target := c.Nodes[0].ClusterAddr()
	for _, proto := range []string{"gatehouse-raft", "gatehouse-rpc"} {
		if err := probeTLS(target, rogueCert, pool, proto); err == nil || isTimeout(err) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("ALPN %s with a foreign certificate: want the handshake refused, got %v", proto, err)
		} else {
			t.Logf("ALPN %s with a foreign certificate refused: %v", proto, err)
		}
	}
	// Control: a genuine certificate passes the same handshake, and the
	// server then waits for Raft traffic.
	if err := probeTLS(target, realCert, pool, "gatehouse-raft"); !isTimeout(err) {
		t.Fatalf("control with n2's certificate: want an accepted handshake then silence, got %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rogueRPC := &http.Client{Transport: &http.Transport{
		TLSClientConfig: presentAlways(rogueCert, pool, "gatehouse-rpc"),
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	if _, err := (&cluster.Client{HTTP: rogueRPC, Addr: target}).Status(ctx); err == nil {
		t.Fatal("status RPC with a foreign certificate succeeded")
	}
	body := fmt.Sprintf(`{"id":%q,"addr":%q}`, foreign.ID, foreign.ClusterAddr())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+target+"/rpc/join", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := rogueRPC.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("join RPC with a foreign certificate answered %d", resp.StatusCode)
		}
	}
	t.Logf("join RPC with a foreign certificate: %v", err)
	if _, err := (&cluster.Client{HTTP: cluster.NewRPCClient(&realCert, pool), Addr: target}).Status(ctx); err != nil {
		t.Fatalf("control: status RPC with n2's certificate: %v", err)
	}
	if got := raftMembers(statusViaCLI(t, c.Nodes[0])); len(got) != 3 {
		t.Fatalf("Raft members after the attempts: %v", got)
	}
}

// probeTLS completes a TLS handshake with the given client certificate and
// ALPN protocol and then reads: a server that refused the certificate
// answers with an alert (an error), one that accepted it waits for the
// client (a timeout).
func probeTLS(addr string, cert tls.Certificate, roots *x509.CertPool, proto string) error {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, presentAlways(cert, roots, proto))
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	defer conn.Close()
	// With TLS 1.3 the server checks the client certificate after the
	// client considers the handshake done; the refusal arrives on read.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	_, err = conn.Read(make([]byte, 1))
	if err == nil {
		return errors.New("the server sent data to an unauthenticated client")
	}
	return fmt.Errorf("read after handshake: %w", err)
}

// presentAlways is a client TLS config that sends cert whatever CAs the
// server asks for. Go's default withholds a certificate the server's
// CertificateRequest does not list, which would test the client, not the
// server's verification.
func presentAlways(cert tls.Certificate, roots *x509.CertPool, proto string) *tls.Config {
	return &tls.Config{
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		RootCAs:              roots, NextProtos: []string{proto}, MinVersion: tls.VersionTLS13,
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// startAll is c.StartAll for a fresh cluster that survives a port being
// taken by another process between freePort and the server's bind (the
// machine is shared): the clashing nodes get fresh ports and all start
// again. Only safe before the cluster bootstraps, which needs every node.
func startAll(t *testing.T, c *Cluster) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		offsets := map[*Node]int64{}
		for _, nd := range c.Nodes {
			if fi, err := os.Stat(nd.Log); err == nil {
				offsets[nd] = fi.Size()
			}
		}
		c.StartAll()
		var clash []*Node
		Eventually(t, 20*time.Second, "every node binds its ports or fails to", func() bool {
			clash = clash[:0]
			serving := 0
			for _, nd := range c.Nodes {
				b, _ := os.ReadFile(nd.Log)
				b = b[min(int64(len(b)), offsets[nd]):]
				switch {
				case bytes.Contains(b, []byte(`"msg":"serving"`)):
					serving++
				case !nd.Running() && bytes.Contains(b, []byte("address already in use")):
					clash = append(clash, nd)
				case !nd.Running():
					t.Fatalf("%s exited at start:\n%s", nd.ID, b)
				}
			}
			return len(clash) > 0 || serving == len(c.Nodes)
		})
		if len(clash) == 0 {
			return
		}
		if attempt == 3 {
			t.Fatalf("ports kept being taken by other processes")
		}
		c.StopAll()
		for _, nd := range clash {
			t.Logf("a port of %s was taken by another process; retrying with fresh ports", nd.ID)
			nd.APIPort, nd.ClusterPort, nd.GossipPort = freePort(t), freePort(t), freePort(t)
		}
	}
}
