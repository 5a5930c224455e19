package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/ops/config"
)

// testCA is a throwaway cluster CA that issues node certificates.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	path string // CA PEM file
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{dir: dir, cert: cert, key: key, path: filepath.Join(dir, "ca.pem")}
	writePEM(t, ca.path, "CERTIFICATE", der)
	return ca
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes a node certificate (CN = id, SANs 127.0.0.1 and localhost,
// server and client use) and returns the cert and key paths.
func (ca *testCA) issue(t *testing.T, id string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: id},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(ca.dir, id+".pem"), filepath.Join(ca.dir, id+"-key.pem")
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "EC PRIVATE KEY", kder)
	return certPath, keyPath
}

func (ca *testCA) tlsFor(t *testing.T, id string) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	c, k := ca.issue(t, id)
	cert, pool, err := LoadTLS(config.ClusterConfig{CA: ca.path, Cert: c, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	return cert, pool
}

// testEnv holds what every node of one test cluster shares.
type testEnv struct {
	t         *testing.T
	ca        *testCA
	gossipKey string
	clusterID string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ca := newTestCA(t, "test cluster CA")
	return &testEnv{t: t, ca: ca, gossipKey: writeGossipKey(t, ca.dir, "gossip.key"), clusterID: writeFile(t, ca.dir, "cluster-id", "test-cluster-1")}
}

func writeGossipKey(t *testing.T, dir, name string) string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return writeFile(t, dir, name, base64.StdEncoding.EncodeToString(key)+"\n")
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// config builds a node config with short timings on free loopback ports.
func (e *testEnv) config(id string, expect int, join ...string) Config {
	cert, key := e.ca.issue(e.t, id)
	return Config{
		NodeID: id, DataDir: e.t.TempDir(), APIAddr: "https://" + id + ".example:8443",
		Cluster: config.ClusterConfig{
			Listen: "127.0.0.1:0", GossipListen: "127.0.0.1:0",
			CA: e.ca.path, Cert: cert, Key: key, GossipKey: e.gossipKey, ClusterIDFile: e.clusterID,
			BootstrapExpect: expect, Join: join,
		},
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("test", e.t.Name()),
		HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond, LeaderLeaseTimeout: 100 * time.Millisecond,
		NoLeaderWait: time.Second, PromoteAfter: 400 * time.Millisecond, GossipFast: true,
	}
}

func (e *testEnv) start(cfg Config) *Node {
	e.t.Helper()
	n, err := New(cfg, newTestSM())
	if err != nil {
		e.t.Fatalf("start %s: %v", cfg.NodeID, err)
	}
	e.t.Cleanup(func() { _ = n.Shutdown() })
	return n
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func testCommand(t *testing.T, rid string) fsm.Command {
	t.Helper()
	c, err := fsm.NewCommand("test.put", 1, rid, time.Now().UnixMilli(), map[string]string{"k": rid})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testSM is a tiny in-memory state machine: it records request ids and
// the applied index, and answers each log with its index.
type testSM struct {
	mu      sync.Mutex
	applied uint64
	data    map[string]uint64 // request id -> index
	changed chan struct{}     // closed and replaced on every advance
}

func newTestSM() *testSM { return &testSM{data: map[string]uint64{}, changed: make(chan struct{})} }

func (s *testSM) ApplyBatch(logs []*raft.Log) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, len(logs))
	for i, l := range logs {
		out[i] = fsm.Result{Index: l.Index}
		if l.Index <= s.applied {
			continue
		}
		if l.Type == raft.LogCommand {
			if c, err := fsm.DecodeCommand(l.Data); err == nil {
				if _, dup := s.data[c.RequestID]; !dup {
					s.data[c.RequestID] = l.Index
				}
			}
		}
		s.applied = l.Index
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return out
}

func (s *testSM) Apply(l *raft.Log) any { return s.ApplyBatch([]*raft.Log{l})[0] }

func (s *testSM) AppliedIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

func (s *testSM) has(rid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[rid]
	return ok
}

func (s *testSM) WaitApplied(ctx context.Context, index uint64) error {
	for {
		s.mu.Lock()
		applied, ch := s.applied, s.changed
		s.mu.Unlock()
		if applied >= index {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

type testSnap struct {
	Applied uint64            `json:"applied"`
	Data    map[string]uint64 `json:"data"`
}

func (s *testSM) Snapshot() (raft.FSMSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(testSnap{Applied: s.applied, Data: s.data})
	return snapBytes(b), err
}

func (s *testSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var snap testSnap
	if err := json.NewDecoder(rc).Decode(&snap); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied, s.data = snap.Applied, snap.Data
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

type snapBytes []byte

func (b snapBytes) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(b); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (b snapBytes) Release() {}
