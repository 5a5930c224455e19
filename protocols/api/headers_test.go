package api

import (
	"net/http"
	"testing"
)

func TestEveryAnswerForbidsPlainHTTPAndSniffing(t *testing.T) {
	a := newTestAPI(t)
	for _, c := range []struct{ method, path string }{{"GET", "/status"}, {"GET", "/v1/person"}, {"GET", "/nowhere"}, {"POST", "/v1/auth"}} {
		w := a.do(c.method, c.path, "", "{", nil)
		if got := w.Header().Get("Strict-Transport-Security"); got == "" {
			t.Errorf("%s %s (%d): no Strict-Transport-Security", c.method, c.path, w.Code)
		}
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options = %q", c.method, c.path, got)
		}
		if w.Code >= http.StatusInternalServerError {
			t.Errorf("%s %s: %d", c.method, c.path, w.Code)
		}
	}
}

func TestLinearizableReadsAreOfferedAndOtherConsistenciesRefused(t *testing.T) {
	a := newTestAPI(t)
	if w := a.do("GET", "/status", "", "", map[string]string{HeaderConsistency: "linearizable"}); w.Code != http.StatusOK {
		t.Fatalf("linearizable read: %d %s", w.Code, w.Body)
	}
	if w := a.do("GET", "/status", "", "", map[string]string{HeaderConsistency: "eventual-ish"}); w.Code != http.StatusBadRequest {
		t.Fatalf("unknown consistency: want 400, got %d", w.Code)
	}
}
