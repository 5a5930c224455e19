package oidcup

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds on callback parameters. Codes from large IdPs (Azure AD) run to
// ~1.5 KiB and our sealed state is well under 2 KiB; 4 KiB leaves room
// without letting a crafted URL make us carry megabytes.
const (
	MaxCodeLen          = 4096
	MaxStateLen         = 4096
	maxErrorCode        = 64
	maxErrorDescription = 256
)

// ErrBadCallback: the callback query is malformed (missing, repeated,
// over-long or non-printable code or state).
var ErrBadCallback = errors.New("bad callback")

// ProviderError is an error the provider reported on the callback
// (error, error_description; RFC 6749 4.1.2.1), already cleaned for display.
type ProviderError struct {
	Code        string
	Description string
}

func (e *ProviderError) Error() string {
	msg := "the identity provider refused the login: " + e.Code
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	return msg
}

// ParseCallback reads code and state from the redirect back from the
// provider. If the provider reported an error, err is a *ProviderError and
// state is still returned (when well formed) so the caller can find and
// close the in-flight login.
func ParseCallback(q url.Values) (code, state string, err error) {
	state, serr := single(q, "state", MaxStateLen)
	if serr != nil {
		state = ""
	}
	if _, has := q["error"]; has {
		pe := &ProviderError{Code: clean(first(q, "error"), maxErrorCode)}
		if pe.Code == "" {
			pe.Code = "unknown_error"
		}
		pe.Description = clean(first(q, "error_description"), maxErrorDescription)
		return "", state, pe
	}
	if serr != nil {
		return "", "", serr
	}
	code, err = single(q, "code", MaxCodeLen)
	if err != nil {
		return "", state, err
	}
	return code, state, nil
}

// single returns the one value of a required parameter. A repeated
// parameter is refused: different layers may pick different copies.
func single(q url.Values, name string, max int) (string, error) {
	vs := q[name]
	switch {
	case len(vs) == 0 || vs[0] == "":
		return "", fmt.Errorf("%w: no %s parameter", ErrBadCallback, name)
	case len(vs) > 1:
		return "", fmt.Errorf("%w: the %s parameter appears %d times", ErrBadCallback, name, len(vs))
	case len(vs[0]) > max:
		return "", fmt.Errorf("%w: the %s parameter is longer than %d bytes", ErrBadCallback, name, max)
	}
	// RFC 6749 allows only visible ASCII and space (VSCHAR) here.
	for i := 0; i < len(vs[0]); i++ {
		if c := vs[0][i]; c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("%w: the %s parameter holds a character outside printable ASCII", ErrBadCallback, name)
		}
	}
	return vs[0], nil
}

func first(q url.Values, name string) string {
	if vs := q[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// clean makes provider-supplied text safe to show and log: control and
// invalid characters become '?', and it is cut to max bytes on a rune
// boundary with "…" appended.
func clean(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		// IsPrint also drops bidi overrides and other format characters
		// that could make the message read differently than it is.
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > max {
			return strings.TrimSpace(b.String()) + "…"
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}
