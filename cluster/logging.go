package cluster

import (
	"bytes"
	"context"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger routes hashicorp/raft's hclog output into slog at warn and
// above; Raft's info chatter (elections, pipelines) would drown real news.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: &slogWriter{log: l},
		// The plain format puts "[WARN]" / "[ERROR]" in each line, which
		// slogWriter maps back to a level.
		DisableTime: true,
	})
}

// newStdLogger is memberlist's logger: its lines carry [DEBUG], [INFO],
// [WARN] or [ERR]; only warnings and errors reach slog.
func newStdLogger(l *slog.Logger) *log.Logger {
	return log.New(&slogWriter{log: l}, "", 0)
}

type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	var level slog.Level
	switch {
	case bytes.Contains(line, []byte("[ERR")):
		level = slog.LevelError
	case bytes.Contains(line, []byte("[WARN")):
		level = slog.LevelWarn
	default:
		level = slog.LevelDebug
	}
	if w.log.Enabled(context.Background(), level) {
		w.log.Log(context.Background(), level, string(line))
	}
	return len(p), nil
}
