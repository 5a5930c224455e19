// Package pki makes the cluster's secrets: the cluster CA (ECDSA P-256), the
// gossip key, the cluster encryption key and the cluster id (Init), and node
// certificates signed by that CA (IssueNodeCert). Nodes use the certificates
// for the HTTPS API and for mutual TLS between nodes.
package pki
