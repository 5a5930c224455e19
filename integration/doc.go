// Package integration holds the multi-node tests: real `gatehouse` processes
// on 127.0.0.1 with real TLS, driven through the built binary, the JSON API
// and real peers (Prometheus). The shared fixtures are in harness_test.go.
package integration
