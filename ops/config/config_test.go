package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/ops/pki"
)

// writeNode makes a cluster with pki and a config for node n1 next to it,
// using relative paths so Load's path resolution is exercised.
func writeNode(t *testing.T, extra string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	if err := pki.Init(filepath.Join(dir, "cluster")); err != nil {
		t.Fatal(err)
	}
	if err := pki.IssueNodeCert(filepath.Join(dir, "cluster"), "n1", []string{"localhost", "127.0.0.1"}, 0,
		filepath.Join(dir, "n1", "node.pem"), filepath.Join(dir, "n1", "node.key")); err != nil {
		t.Fatal(err)
	}
	toml := `node_id = "n1"
data_dir = "data"
` + extra + `
[api]
listen = "127.0.0.1:8443"
tls_cert = "node.pem"
tls_key = "node.key"

[cluster]
listen = "127.0.0.1:8543"
gossip_listen = "127.0.0.1:8643"
ca = "../cluster/ca.pem"
cert = "node.pem"
key = "node.key"
gossip_key = "../cluster/gossip.key"
encryption_key = "../cluster/encryption.key"
cluster_id_file = "../cluster/cluster-id"
bootstrap_expect = 3
join = ["127.0.0.1:8644"]
`
	path = filepath.Join(dir, "n1", "gatehouse.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestLoadResolvesPathsAppliesDefaultsAndEnv(t *testing.T) {
	dir, path := writeNode(t, "")
	t.Setenv("GATEHOUSE_NODE_ID", "n1")
	t.Setenv("GATEHOUSE_API_LISTEN", "127.0.0.1:9443")
	t.Setenv("GATEHOUSE_JOIN", "127.0.0.1:1, 127.0.0.1:2")
	t.Setenv("GATEHOUSE_BOOTSTRAP_EXPECT", "5")
	t.Setenv("GATEHOUSE_DOMAIN", "example.test")

	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := filepath.Join(dir, "n1", "data"); c.DataDir != want {
		t.Errorf("DataDir = %q, want %q", c.DataDir, want)
	}
	if want := filepath.Join(dir, "cluster", "ca.pem"); c.Cluster.CA != want {
		t.Errorf("Cluster.CA = %q, want %q", c.Cluster.CA, want)
	}
	if c.API.Listen != "127.0.0.1:9443" || c.Cluster.BootstrapExpect != 5 || c.Domain != "example.test" {
		t.Errorf("env overrides not applied: %+v", c)
	}
	if strings.Join(c.Cluster.Join, "|") != "127.0.0.1:1|127.0.0.1:2" {
		t.Errorf("Join = %v", c.Cluster.Join)
	}
	if c.LogLevel != "info" || c.Cluster.Advertise != "127.0.0.1:8543" {
		t.Errorf("defaults: log level %q, advertise %q", c.LogLevel, c.Cluster.Advertise)
	}
	if c.Origin != "https://example.test:9443" {
		t.Errorf("Origin = %q", c.Origin)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidateRefusesWithoutTLSCert(t *testing.T) {
	_, path := writeNode(t, "")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c.API.TLSCert = ""
	err = c.Validate()
	want := "refusing to start: api.tls_cert and api.tls_key are required: Gatehouse serves HTTPS only"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate = %v, want it to contain %q", err, want)
	}
}

func TestValidateReportsBadKeysAndWrongNode(t *testing.T) {
	dir, path := writeNode(t, "")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c.NodeID = "n2"
	if err := os.WriteFile(filepath.Join(dir, "cluster", "encryption.key"), []byte("c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a short encryption key and a certificate for another node")
	}
	for _, want := range []string{"cluster.encryption_key", "5 bytes, want 32", `names node "n1" but node_id is "n2"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestLoadRefusesUnknownKey(t *testing.T) {
	_, path := writeNode(t, `log_levle = "debug"`)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "unknown keys") || !strings.Contains(err.Error(), "log_levle") {
		t.Fatalf("Load = %v, want an unknown-key error naming log_levle", err)
	}
}

func TestLoadEncryptionKey(t *testing.T) {
	dir := t.TempDir()
	if err := pki.Init(dir); err != nil {
		t.Fatal(err)
	}
	key, err := LoadEncryptionKey(filepath.Join(dir, pki.EncryptionKeyFile))
	if err != nil || len(key) != 32 {
		t.Fatalf("LoadEncryptionKey = %d bytes, %v", len(key), err)
	}
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not base64!"), 0o600)
	if _, err := LoadEncryptionKey(bad); err == nil {
		t.Fatal("LoadEncryptionKey accepted garbage")
	}
}
