// Package config holds a node's configuration: a TOML file, overridden by
// environment variables (GATEHOUSE_*) and command-line flags, in that order.
package config

import "strings"

// Config is everything one node needs to start. Paths are as written in the
// file; Load makes relative paths relative to the file's folder.
type Config struct {
	// NodeID names the node in the Raft configuration; the node's cluster
	// certificate must carry it as its common name.
	NodeID string `toml:"node_id"`
	// DataDir holds raft.db (log and stable store), snapshots/ and state.db.
	DataDir string `toml:"data_dir"`
	// Domain is the identity domain: spn = name@domain.
	Domain string `toml:"domain"`
	// Origin is the public URL clients use (the issuer for tokens).
	Origin string `toml:"origin"`

	// API is the HTTPS listener for clients.
	API APIConfig `toml:"api"`
	// Cluster is the mutual-TLS listener for Raft and the cluster RPC, and
	// the gossip listener.
	Cluster ClusterConfig `toml:"cluster"`

	// WebAuthn are the relying-party settings of passkeys and security keys.
	WebAuthn WebAuthnConfig `toml:"webauthn"`
	// Kerberos turns on SPNEGO logins (GET /v1/auth/spnego).
	Kerberos KerberosConfig `toml:"kerberos"`
	OAuth2   OAuth2Config   `toml:"oauth2"` // [oauth2]: signing-key rotation (oauth2.go)

	LogLevel string `toml:"log_level"` // debug, info, warn, error
	// AuditLog is a file that receives one JSON line per login and admin
	// change; empty means the audit lines go to the main log.
	AuditLog string `toml:"audit_log"`
}

type APIConfig struct {
	Listen  string `toml:"listen"` // host:port, e.g. 127.0.0.1:8443
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// MaxConcurrentHashes bounds argon2id work; 0 means 2×GOMAXPROCS.
	MaxConcurrentHashes int `toml:"max_concurrent_hashes"`
}

type ClusterConfig struct {
	// Listen is the mTLS address for Raft and cluster RPC; Advertise is what
	// other nodes dial (defaults to Listen).
	Listen    string `toml:"listen"`
	Advertise string `toml:"advertise"`
	// GossipListen is the memberlist bind address (TCP and UDP).
	GossipListen string `toml:"gossip_listen"`

	CA            string `toml:"ca"`              // cluster CA certificate (PEM)
	Cert          string `toml:"cert"`            // this node's certificate (PEM), CN = node id
	Key           string `toml:"key"`             // this node's key (PEM)
	GossipKey     string `toml:"gossip_key"`      // file with the base64 32-byte gossip key
	EncryptionKey string `toml:"encryption_key"`  // file with the base64 32-byte cluster encryption key
	ClusterIDFile string `toml:"cluster_id_file"` // file with the cluster id (from cluster init)

	// BootstrapExpect forms a new cluster once this many servers see each other.
	BootstrapExpect int `toml:"bootstrap_expect"`
	// Join lists gossip addresses of other nodes to contact at start.
	Join []string `toml:"join"`

	// Raft log compaction: take a snapshot once this many entries follow
	// the last one (0: 8192), keep this many entries behind it so that a
	// briefly stopped follower catches up from the log (0: 10240), and check
	// every SnapshotIntervalMS milliseconds (0: 120000). Tests lower them
	// to make a joining node catch up from a snapshot.
	SnapshotThreshold  uint64 `toml:"snapshot_threshold"`
	TrailingLogs       uint64 `toml:"trailing_logs"`
	SnapshotIntervalMS int    `toml:"snapshot_interval_ms"`
}

// WebAuthnConfig: browsers bind a passkey to the RP ID (a domain, never an
// IP address) and check the page's origin, port included.
type WebAuthnConfig struct {
	// RPID defaults to the host of Origin, or "localhost".
	RPID string `toml:"rp_id"`
	// RPName is shown by authenticators; defaults to "Gatehouse".
	RPName string `toml:"rp_name"`
	// Origins are the page origins allowed to use passkeys. Origin and
	// https://localhost:<api port> are always allowed.
	Origins []string `toml:"origins"`
}

// KerberosConfig: behind a load balancer every node holds the balancer
// host's key (HTTP/<balancer host>), so the nodes share one keytab.
type KerberosConfig struct {
	// Keytab is the keytab file; empty means $KRB5_KTNAME (a FILE: prefix is
	// removed); both empty turns Kerberos off. It is read again on SIGHUP and
	// whenever the file changes, so a key rotation needs no restart.
	Keytab string `toml:"keytab"`
	// Realms are the client realms accepted (empty: any realm).
	Realms []string `toml:"realms"`
	// ServicePrincipals are the SPNs tickets may be for, e.g. HTTP/idm.example.com
	// (empty: any key in the keytab).
	ServicePrincipals []string `toml:"service_principals"`
	// MapNameRealms: a principal name@REALM of these realms maps to the
	// person named name when no person lists the principal itself.
	MapNameRealms []string `toml:"map_name_realms"`
}

// KeytabPath is the keytab to use: the configured one, else $KRB5_KTNAME.
func (k KerberosConfig) KeytabPath(getenv func(string) string) string {
	if k.Keytab != "" {
		return k.Keytab
	}
	p := getenv("KRB5_KTNAME")
	p, _ = strings.CutPrefix(p, "FILE:")
	return p
}
