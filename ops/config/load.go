package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Load reads the TOML file at path, applies the GATEHOUSE_* environment
// overrides, resolves relative paths against the file's folder and fills in
// defaults. It does not check that the files exist: that is Validate's job.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	dec := toml.NewDecoder(bytes.NewReader(data))
	// A misspelt key silently ignored is a setting silently lost: refuse it.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			return nil, fmt.Errorf("config %s: unknown keys (check spelling and section):\n%s", path, strict.String())
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("config %s:%d:%d: %w", path, row, col, err)
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.applyEnv(os.LookupEnv); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.resolvePaths(base)
	c.applyDefaults()
	return &c, nil
}

// applyEnv overrides file values with GATEHOUSE_* variables. Paths from the
// environment are relative to the working directory, as a shell user expects.
func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	str("GATEHOUSE_NODE_ID", &c.NodeID)
	if v, ok := lookup("GATEHOUSE_DATA_DIR"); ok {
		abs, err := filepath.Abs(v)
		if err != nil {
			return fmt.Errorf("GATEHOUSE_DATA_DIR: %w", err)
		}
		c.DataDir = abs
	}
	str("GATEHOUSE_API_LISTEN", &c.API.Listen)
	str("GATEHOUSE_CLUSTER_LISTEN", &c.Cluster.Listen)
	str("GATEHOUSE_GOSSIP_LISTEN", &c.Cluster.GossipListen)
	str("GATEHOUSE_ORIGIN", &c.Origin)
	str("GATEHOUSE_DOMAIN", &c.Domain)
	if v, ok := lookup("GATEHOUSE_BOOTSTRAP_EXPECT"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return fmt.Errorf("GATEHOUSE_BOOTSTRAP_EXPECT=%q: want a whole number ≥ 0", v)
		}
		c.Cluster.BootstrapExpect = n
	}
	if v, ok := lookup("GATEHOUSE_JOIN"); ok {
		c.Cluster.Join = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.Cluster.Join = append(c.Cluster.Join, a)
			}
		}
	}
	return nil
}

func (c *Config) resolvePaths(base string) {
	for _, p := range []*string{
		&c.DataDir, &c.AuditLog, &c.API.TLSCert, &c.API.TLSKey,
		&c.Cluster.CA, &c.Cluster.Cert, &c.Cluster.Key,
		&c.Cluster.GossipKey, &c.Cluster.EncryptionKey, &c.Cluster.ClusterIDFile, &c.Kerberos.Keytab,
	} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
}

func (c *Config) applyDefaults() {
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.Cluster.Advertise == "" {
		c.Cluster.Advertise = c.Cluster.Listen
	}
	// Without an explicit origin, the issuer is the domain on the API port:
	// right for a single node or the dev cluster, wrong behind a balancer
	// (where the operator must set origin).
	if c.Origin == "" && c.API.Listen != "" {
		if _, port, err := net.SplitHostPort(c.API.Listen); err == nil {
			c.Origin = "https://" + net.JoinHostPort(c.Domain, port)
		}
	}
}
