// Command gatehouse-bench is Gatehouse's load generator. It starts its own
// three-node cluster on 127.0.0.1 (through `gatehouse dev`, then runs the
// three `gatehouse server` processes itself so that it owns their PIDs),
// measures writes, local reads, password logins (on one node and through
// HAProxy) against the argon2id bound, passkey logins, memory under a login
// burst, a badlist upload, memory and restart-to-serving time, prints a
// Markdown table and stops every process it started (nodes, HAProxy), also
// on error and Ctrl-C.
//
// Files: main.go (flags, machine header, orchestration), cluster.go (the
// child processes), haproxy.go (the load balancer), client.go (the HTTP
// calls over one shared transport), load.go (closed-loop workers and
// latency percentiles), parts.go (writes, reads, logins, restart),
// parts_auth.go (HAProxy and passkey logins, the login burst), badlist.go
// (the generated badlist and the CLI upload), report.go (the table).
package main
