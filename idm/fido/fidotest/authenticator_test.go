package fidotest

import (
	"encoding/json"
	"errors"
	"testing"
)

// An authenticator without a matching credential says so, as a browser's
// NotAllowedError would; the options' shape errors are reported, not panics.
func TestLoginWithoutCredential(t *testing.T) {
	a := New("https://localhost:8443")
	_, err := a.Login(json.RawMessage(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"localhost"}}`), true)
	if !errors.Is(err, ErrNoCredential) {
		t.Fatalf("login without credentials: %v", err)
	}
	for _, bad := range []string{`null`, `{}`, `{"publicKey":{"challenge":"!!","rpId":"localhost"}}`, `[`} {
		if _, err := a.Login(json.RawMessage(bad), true); err == nil {
			t.Fatalf("login options %s accepted", bad)
		}
		if _, err := a.Register(json.RawMessage(bad), true); err == nil {
			t.Fatalf("creation options %s accepted", bad)
		}
	}
}
