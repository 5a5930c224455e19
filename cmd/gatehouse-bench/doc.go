// Command gatehouse-bench is Gatehouse's load generator. It starts its own
// three-node cluster on 127.0.0.1 (through `gatehouse dev`, then runs the
// three `gatehouse server` processes itself so that it owns their PIDs),
// measures writes, local reads, password logins, the argon2id bound, memory
// and restart-to-serving time, prints a Markdown table and stops every
// process it started, also on error and Ctrl-C.
//
// Files: main.go (flags, machine header, orchestration), cluster.go (the
// child processes), client.go (the HTTP calls over one shared transport),
// load.go (closed-loop workers and latency percentiles), parts.go (the
// measurements), report.go (the table).
package main
