package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Validate reports every problem it finds, one per line, so an operator can
// fix a config in one pass. It reads (but never writes) the key files.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.NodeID == "" {
		add("node_id is required")
	}
	if c.DataDir == "" {
		add("data_dir is required")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		add("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Origin != "" {
		if u, err := url.Parse(c.Origin); err != nil || u.Scheme != "https" || u.Host == "" {
			add("origin %q: want an https:// URL (Gatehouse serves HTTPS only)", c.Origin)
		}
	}
	checkAddr := func(key, v string) {
		if v == "" {
			add("%s is required", key)
		} else if _, _, err := net.SplitHostPort(v); err != nil {
			add("%s %q: want host:port: %v", key, v, err)
		}
	}
	checkAddr("api.listen", c.API.Listen)
	if c.API.TLSCert == "" || c.API.TLSKey == "" {
		add("refusing to start: api.tls_cert and api.tls_key are required: Gatehouse serves HTTPS only")
	} else if _, err := tls.LoadX509KeyPair(c.API.TLSCert, c.API.TLSKey); err != nil {
		add("api.tls_cert/api.tls_key: %v", err)
	}
	if c.API.MaxConcurrentHashes < 0 {
		add("api.max_concurrent_hashes must be ≥ 0")
	}

	checkAddr("cluster.listen", c.Cluster.Listen)
	checkAddr("cluster.advertise", c.Cluster.Advertise)
	checkAddr("cluster.gossip_listen", c.Cluster.GossipListen)
	if c.Cluster.CA == "" {
		add("cluster.ca is required (from `gatehouse cluster init`)")
	} else if err := checkCA(c.Cluster.CA); err != nil {
		add("cluster.ca: %v", err)
	}
	if c.Cluster.Cert == "" || c.Cluster.Key == "" {
		add("cluster.cert and cluster.key are required (from `gatehouse cluster cert`): nodes talk mutual TLS only")
	} else if pair, err := tls.LoadX509KeyPair(c.Cluster.Cert, c.Cluster.Key); err != nil {
		add("cluster.cert/cluster.key: %v", err)
	} else if c.NodeID != "" && pair.Leaf != nil && pair.Leaf.Subject.CommonName != c.NodeID {
		add("cluster.cert names node %q but node_id is %q: peers would reject this node", pair.Leaf.Subject.CommonName, c.NodeID)
	}
	if c.Cluster.GossipKey == "" {
		add("cluster.gossip_key is required: gossip is always encrypted")
	} else if _, err := LoadEncryptionKey(c.Cluster.GossipKey); err != nil {
		add("cluster.gossip_key: %v", err)
	}
	if c.Cluster.EncryptionKey == "" {
		add("cluster.encryption_key is required: secrets are sealed before they enter the Raft log")
	} else if _, err := LoadKeyring(c.Cluster.EncryptionKey); err != nil {
		add("cluster.encryption_key: %v", err)
	}
	if c.Cluster.ClusterIDFile != "" {
		if _, err := ReadClusterID(c.Cluster.ClusterIDFile); err != nil {
			add("cluster.cluster_id_file: %v", err)
		}
	}
	if c.Cluster.BootstrapExpect < 0 {
		add("cluster.bootstrap_expect must be ≥ 0")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
}

func checkCA(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return fmt.Errorf("%s holds no PEM certificate", path)
	}
	return nil
}

// LoadEncryptionKey reads a file holding the base64 encoding of a 32-byte key
// (the cluster encryption key or the gossip key, as written by cluster init).
func LoadEncryptionKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("key %s: not base64: %w", path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("key %s: %d bytes, want 32", path, len(key))
	}
	return key, nil
}

// ReadClusterID reads the cluster id file written by cluster init.
func ReadClusterID(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read cluster id: %w", err)
	}
	id := strings.TrimSpace(string(data))
	if id == "" {
		return "", fmt.Errorf("cluster id file %s is empty", path)
	}
	return id, nil
}
