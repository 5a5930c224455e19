package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadSnippet(t *testing.T, body string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "g.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

func TestKeyRotationReadsDaysAndHoursAndDefaultsToThirtyDays(t *testing.T) {
	c, err := loadSnippet(t, "node_id = \"n1\"\n")
	if err != nil || c.OAuth2.Period() != 30*24*time.Hour {
		t.Fatalf("default: %v, %v", c.OAuth2.Period(), err)
	}
	for in, want := range map[string]time.Duration{`"7d"`: 7 * 24 * time.Hour, `"36h"`: 36 * time.Hour} {
		c, err := loadSnippet(t, "[oauth2]\nkey_rotation = "+in+"\n")
		if err != nil || c.OAuth2.Period() != want {
			t.Fatalf("%s: %v, %v", in, c.OAuth2.Period(), err)
		}
	}
	for _, bad := range []string{`"30s"`, `"soon"`, `"xd"`} {
		if _, err := loadSnippet(t, "[oauth2]\nkey_rotation = "+bad+"\n"); err == nil || !strings.Contains(err.Error(), "key_rotation") {
			t.Fatalf("%s accepted: %v", bad, err)
		}
	}
}
