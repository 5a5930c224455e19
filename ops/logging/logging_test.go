package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestAuditLinesAreJSONWithFields(t *testing.T) {
	var buf bytes.Buffer
	a := NewAudit(&buf)
	a.Login("alice", "password", "success", "n1", "127.0.0.1:5555")
	a.Change("admin", "person.create", "bob", 42)

	sc := bufio.NewScanner(&buf)
	var lines []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2", len(lines))
	}
	wantLogin := map[string]any{"audit": true, "event": "login", "account": "alice", "mechanism": "password",
		"result": "success", "node": "n1", "remote": "127.0.0.1:5555"}
	for k, v := range wantLogin {
		if lines[0][k] != v {
			t.Errorf("login line %s = %v, want %v", k, lines[0][k], v)
		}
	}
	wantChange := map[string]any{"audit": true, "event": "change", "actor": "admin", "action": "person.create",
		"target": "bob", "index": float64(42)}
	for k, v := range wantChange {
		if lines[1][k] != v {
			t.Errorf("change line %s = %v, want %v", k, lines[1][k], v)
		}
	}
	if _, ok := lines[0]["time"]; !ok {
		t.Error("audit line has no time")
	}
}

func TestNewFiltersByLevel(t *testing.T) {
	var buf bytes.Buffer
	l := New("warn", &buf)
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Fatalf("log output %q", out)
	}
}
