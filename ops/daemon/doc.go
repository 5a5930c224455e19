// Package daemon runs one foreground daemon for the ops fixtures (slapd,
// krb5kdc): it starts the command with its output appended to a log file,
// polls until the daemon is ready (it listens) or has exited, and holds the
// PID so that Stop ends exactly that process — never one found by name.
// FreePort picks the ports those daemons bind, in a band the integration
// harness never hands its nodes.
//
// It knows nothing about what it runs: the fixture builds the command,
// says what "ready" means and turns ErrExited and ErrNotReady into errors
// that carry its own log.
package daemon
