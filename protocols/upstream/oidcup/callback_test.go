package oidcup

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseCallback(t *testing.T) {
	for _, tc := range []struct {
		name, query, code, state, err string
	}{
		{name: "ok", query: "code=abc&state=xyz", code: "abc", state: "xyz"},
		{name: "no state", query: "code=abc", err: "no state parameter"},
		{name: "no code", query: "state=xyz", state: "xyz", err: "no code parameter"},
		{name: "repeated code", query: "code=a&code=b&state=s", state: "s", err: "appears 2 times"},
		{name: "repeated state", query: "code=a&state=s&state=t", err: "appears 2 times"},
		{name: "long code", query: "state=s&code=" + strings.Repeat("a", MaxCodeLen+1), state: "s", err: "longer than"},
		{name: "control char", query: "state=s&code=a%0Ab", state: "s", err: "printable ASCII"},
		{name: "provider error", query: "error=access_denied&error_description=User+said+no&state=s", state: "s",
			err: "the identity provider refused the login: access_denied (User said no)"},
		{name: "provider error beats code", query: "error=server_error&code=abc&state=s", state: "s",
			err: "the identity provider refused the login: server_error"},
		{name: "hostile description", query: "error=x%1b%5B31m&error_description=%E2%80%AEevil%0Aline&state=s", state: "s",
			err: "the identity provider refused the login: x?[31m (?evil?line)"},
		{name: "empty error", query: "error=&state=s", state: "s", err: "unknown_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			code, state, err := ParseCallback(q)
			if code != tc.code || state != tc.state {
				t.Errorf("code, state = %q, %q; want %q, %q", code, state, tc.code, tc.state)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("err = %v; want one containing %q", err, tc.err)
			}
		})
	}
}

func TestProviderErrorIsBounded(t *testing.T) {
	q := url.Values{"error": {strings.Repeat("e", 1000)}, "error_description": {strings.Repeat("é", 1000)}, "state": {"s"}}
	_, _, err := ParseCallback(q)
	var pe *ProviderError
	if !errors.As(err, &pe) || len(pe.Code) > maxErrorCode+len("…") || len(pe.Description) > maxErrorDescription+len("…") {
		t.Fatalf("err = %v", err)
	}
	if !utf8.ValidString(pe.Description) {
		t.Fatalf("description cut inside a rune: %q", pe.Description)
	}
}

// FuzzCallbackParams: whatever query a browser brings back, ParseCallback
// never panics, accepts only bounded printable code and state, and renders
// provider errors as bounded, printable, valid UTF-8 text.
func FuzzCallbackParams(f *testing.F) {
	for _, s := range []string{
		"code=abc&state=xyz",
		"error=access_denied&error_description=denied&state=s",
		"code=a&code=b&state=s",
		"state=%00&code=%ff",
		"error=%E2%80%AE&error_description=" + strings.Repeat("%C3%A9", 300),
		";;&&==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // partial results are what a server sees
		code, state, err := ParseCallback(q)
		if len(code) > MaxCodeLen || len(state) > MaxStateLen {
			t.Fatalf("unbounded result: %d, %d", len(code), len(state))
		}
		for _, s := range []string{code, state} {
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] > 0x7e {
					t.Fatalf("non-printable byte in %q", s)
				}
			}
		}
		if err == nil {
			if code == "" || state == "" {
				t.Fatalf("success without code or state: %q", raw)
			}
			return
		}
		if code != "" {
			t.Fatalf("code %q returned with error %v", code, err)
		}
		msg := err.Error()
		if !utf8.ValidString(msg) || len(msg) > 512 {
			t.Fatalf("bad error text (%d bytes): %q", len(msg), msg)
		}
		var pe *ProviderError
		if errors.As(err, &pe) {
			for _, r := range pe.Code + pe.Description {
				if r < 0x20 || r == 0x7f || r == '\u202e' {
					t.Fatalf("unsafe rune %U in %q", r, msg)
				}
			}
		} else if !errors.Is(err, ErrBadCallback) {
			t.Fatalf("error %v is neither a provider error nor ErrBadCallback", err)
		}
	})
}
