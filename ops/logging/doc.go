// Package logging builds the node's structured logger (JSON lines through
// log/slog) and the audit trail: one JSON line per login and per admin
// change, marked "audit":true so it can be filtered out of a shared log.
package logging
