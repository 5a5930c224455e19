// Package metrics defines Gatehouse's Prometheus metrics: a registry with the
// Go and process collectors, HTTP request counters and latencies, login
// counts, FSM apply latency per command, entry counts, and a bridge that
// forwards the go-metrics telemetry of hashicorp/raft, raft-boltdb and
// memberlist into the same registry.
package metrics
