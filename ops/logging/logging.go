package logging

import (
	"io"
	"log/slog"
	"strings"
	"sync"
)

// ParseLevel maps debug, info, warn and error to slog levels; anything else
// is info, because config.Validate already refuses unknown levels.
func ParseLevel(level string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// New returns a JSON logger writing to w at the given level.
func New(level string, w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: ParseLevel(level)}))
}

// Audit writes the audit trail. It logs at a level of its own choosing
// (always written, never filtered by log_level) because an audit trail with
// gaps is worse than none.
type Audit struct {
	mu  sync.Mutex // one line per event even when w is shared and unbuffered
	log *slog.Logger
}

// NewAudit returns an Audit writing one JSON line per event to w.
func NewAudit(w io.Writer) *Audit {
	a := &Audit{}
	h := slog.NewJSONHandler(&lockedWriter{w: w, mu: &a.mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
	a.log = slog.New(h).With(slog.Bool("audit", true))
	return a
}

// Login records a login attempt. result is e.g. "success", "denied",
// "locked"; remote is the client address as seen by this node.
func (a *Audit) Login(account, mechanism, result, node, remote string) {
	a.log.Info("login",
		slog.String("event", "login"),
		slog.String("account", account),
		slog.String("mechanism", mechanism),
		slog.String("result", result),
		slog.String("node", node),
		slog.String("remote", remote),
	)
}

// Change records an admin change committed at Raft index.
func (a *Audit) Change(actor, action, target string, index uint64) {
	a.log.Info("change",
		slog.String("event", "change"),
		slog.String("actor", actor),
		slog.String("action", action),
		slog.String("target", target),
		slog.Uint64("index", index),
	)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
