package logging

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestOAuth2GrantIsOneAuditLine(t *testing.T) {
	var buf bytes.Buffer
	NewAudit(&buf).OAuth2Grant("authorization_code", "app", "alice", "success", "", "openid profile", "n1", "127.0.0.1:5000")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	for k, v := range map[string]any{"event": "oauth2_grant", "audit": true, "grant": "authorization_code", "client": "app",
		"account": "alice", "result": "success", "scopes": "openid profile", "node": "n1", "remote": "127.0.0.1:5000"} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	var nilAudit *Audit
	nilAudit.OAuth2Grant("x", "", "", "", "", "", "", "") // no panic
}
