package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

// soloCluster starts one node and bootstraps it explicitly through the RPC.
func soloCluster(t *testing.T, env *testEnv) *Node {
	t.Helper()
	n := env.start(env.config("n1", 0))
	c := &Client{HTTP: n.RPCClient(), Addr: n.ClusterAddr()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Bootstrap(ctx); err != nil {
		t.Fatalf("explicit bootstrap: %v", err)
	}
	eventually(t, 5*time.Second, "bootstrapped node leads", n.IsLeader)
	if err := c.Bootstrap(ctx); err == nil {
		t.Fatal("second bootstrap succeeded")
	}
	return n
}

// handshakeFails dials the cluster listener and reports whether the
// connection was refused: in TLS 1.3 a server's refusal of the client
// certificate shows up at the first read.
func handshakeFails(addr string, cfg *tls.Config) bool {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return true
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Write([]byte("GET /rpc/status HTTP/1.1\r\nHost: x\r\n\r\n"))
	buf := make([]byte, 1)
	_, err = c.Read(buf)
	return err != nil
}

func TestForeignCertificateIsRefused(t *testing.T) {
	env := newTestEnv(t)
	n := soloCluster(t, env)
	rogueCA := newTestCA(t, "rogue CA")
	rogueCert, roguePool := rogueCA.tlsFor(t, "n9")
	_, goodPool := env.ca.tlsFor(t, "probe")

	for _, proto := range []string{alpnRaft, alpnRPC} {
		// A rogue certificate is refused even by a client that trusts our CA.
		if !handshakeFails(n.ClusterAddr(), &tls.Config{Certificates: []tls.Certificate{*rogueCert}, RootCAs: goodPool, NextProtos: []string{proto}}) {
			t.Fatalf("%s: connection with a foreign client certificate was accepted", proto)
		}
		// And a rogue client does not accept our node as its peer.
		if !handshakeFails(n.ClusterAddr(), &tls.Config{Certificates: []tls.Certificate{*rogueCert}, RootCAs: roguePool, NextProtos: []string{proto}}) {
			t.Fatalf("%s: rogue client completed a handshake", proto)
		}
		// No client certificate at all.
		if !handshakeFails(n.ClusterAddr(), &tls.Config{RootCAs: goodPool, NextProtos: []string{proto}}) {
			t.Fatalf("%s: connection without a client certificate was accepted", proto)
		}
	}

	// The RPC client with the rogue certificate cannot call anything.
	rc := &Client{HTTP: NewRPCClient(rogueCert, goodPool), Addr: n.ClusterAddr()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := rc.Status(ctx); err == nil {
		t.Fatal("status RPC with a foreign certificate succeeded")
	}

	// A whole node under the rogue CA, with the right gossip key and
	// cluster id, never gets into the Raft configuration.
	cfg := env.config("n9", 0, n.GossipAddr())
	cfg.Cluster.CA = rogueCA.path
	cfg.Cluster.Cert, cfg.Cluster.Key = rogueCA.issue(t, "n9")
	rogue := env.start(cfg)
	time.Sleep(1500 * time.Millisecond)
	if n.isMember("n9") || rogue.HasState() {
		t.Fatal("node with a foreign certificate joined the raft configuration")
	}
	// Its own attempt to call the join RPC fails at TLS.
	if err := rogue.JoinCluster(ctx, n.ClusterAddr()); err == nil {
		t.Fatal("join from a node with a foreign certificate succeeded")
	}
}

func TestJoinNeedsMatchingCertificate(t *testing.T) {
	env := newTestEnv(t)
	n := soloCluster(t, env)
	cert, pool := env.ca.tlsFor(t, "n2")
	c := NewRPCClient(cert, pool)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := callRPC(ctx, c, n.ClusterAddr(), "/rpc/join", joinRequest{ID: "n7", Addr: "127.0.0.1:1"}, nil, nil)
	var re *RPCError
	if !errors.As(err, &re) || re.Status != http.StatusForbidden {
		t.Fatalf("join as another node: %v, want 403", err)
	}
	if n.isMember("n7") {
		t.Fatal("n7 was added")
	}
}

func TestWrongGossipKeyCannotJoin(t *testing.T) {
	env := newTestEnv(t)
	n := soloCluster(t, env)
	cfg := env.config("n2", 0)
	cfg.Cluster.GossipKey = writeGossipKey(t, t.TempDir(), "other.key")
	other := env.start(cfg)
	if _, err := other.ml.Join([]string{n.GossipAddr()}); err == nil {
		t.Fatal("gossip join with the wrong key succeeded")
	}
	time.Sleep(500 * time.Millisecond)
	if n.ml.NumMembers() != 1 || other.ml.NumMembers() != 1 {
		t.Fatalf("members: %d and %d, want 1 each", n.ml.NumMembers(), other.ml.NumMembers())
	}
	if n.isMember("n2") {
		t.Fatal("n2 entered the raft configuration")
	}
}

func TestOtherClusterIDCannotJoinGossip(t *testing.T) {
	env := newTestEnv(t)
	n := soloCluster(t, env)
	cfg := env.config("n2", 0)
	cfg.Cluster.ClusterIDFile = writeFile(t, t.TempDir(), "cid", "another-cluster")
	other := env.start(cfg)
	if _, err := other.ml.Join([]string{n.GossipAddr()}); err == nil {
		t.Fatal("gossip join from another cluster succeeded")
	}
	if n.ml.NumMembers() != 1 {
		t.Fatalf("members: %d, want 1", n.ml.NumMembers())
	}
}
