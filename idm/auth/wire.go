package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Request is one step of the protocol.
type Request struct {
	Step Step `json:"step"`
	// Issue is "cookie" to receive the session as the gatehouse-session
	// cookie instead of in the body (web pages), or "" / "token". Any step
	// may carry it; it holds for the rest of the login.
	Issue string `json:"issue,omitempty"`
}

// Issue values.
const (
	IssueToken  = "token"
	IssueCookie = "cookie"
)

// Step is exactly one of Init, Begin, Cred.
type Step struct {
	// Init names the account; "" starts a usernameless passkey login.
	Init  *string `json:"init,omitempty"`
	Begin *string `json:"begin,omitempty"`
	Cred  *Cred   `json:"cred,omitempty"`
}

// Cred answers the current challenge: exactly one field is set.
type Cred struct {
	Password *string `json:"password,omitempty"`
	TOTP     *Code   `json:"totp,omitempty"`
	// Passkey and SecurityKey are PublicKeyCredential JSON (base64url
	// binary fields) as navigator.credentials.get returns it.
	Passkey     json.RawMessage `json:"passkey,omitempty"`
	SecurityKey json.RawMessage `json:"securitykey,omitempty"`
}

// set counts the answers in c.
func (c *Cred) set() int {
	n := 0
	for _, b := range []bool{c.Password != nil, c.TOTP != nil, len(c.Passkey) > 0, len(c.SecurityKey) > 0} {
		if b {
			n++
		}
	}
	return n
}

// Code is a TOTP code. On the wire it is a number ({"totp":123456}) or a
// string of digits ({"totp":"012345"}); a number loses leading zeros, which
// Verify puts back from the credential's digit count.
type Code string

// MarshalJSON writes the code as a string, which keeps leading zeros.
func (c Code) MarshalJSON() ([]byte, error) { return json.Marshal(string(c)) }

// UnmarshalJSON accepts a non-negative integer or a string of 6–8 digits.
func (c *Code) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if s == "" || len(s) > 8 {
		return errors.New("totp: a code is 6 to 8 digits")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return errors.New("totp: a code is digits only")
		}
	}
	*c = Code(s)
	return nil
}

// padded returns the code with the leading zeros a JSON number dropped.
func (c Code) padded(digits int) string {
	s := string(c)
	for len(s) < digits {
		s = "0" + s
	}
	return s
}

// State is where a login stands after a step: exactly one field is set.
type State struct {
	Choose   []string    `json:"choose,omitempty"`
	Continue []Challenge `json:"continue,omitempty"`
	Denied   *string     `json:"denied,omitempty"`
	Success  *string     `json:"success,omitempty"`
}

// Challenge is what the server asks for next: a bare factor name
// ("password", "totp") or, for WebAuthn, the factor with its request
// options ({"passkey": <PublicKeyCredentialRequestOptions>}).
type Challenge struct {
	Factor  string
	Options json.RawMessage
}

// Factors a challenge can ask for.
const (
	FactorPassword    = "password"
	FactorTOTP        = "totp"
	FactorSecurityKey = "securitykey"
	FactorPasskey     = "passkey"
)

// MarshalJSON writes "factor" or {"factor": options}.
func (c Challenge) MarshalJSON() ([]byte, error) {
	if len(c.Options) == 0 {
		return json.Marshal(c.Factor)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	b.WriteString(strconv.Quote(c.Factor))
	b.WriteByte(':')
	if err := json.Compact(&b, c.Options); err != nil {
		return nil, fmt.Errorf("challenge options of %s: %w", c.Factor, err)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads "factor" or an object with exactly one key.
func (c *Challenge) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*c = Challenge{}
		return json.Unmarshal(b, &c.Factor)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return errors.New("a challenge object has exactly one key")
	}
	for k, v := range m {
		*c = Challenge{Factor: k, Options: v}
	}
	return nil
}

// Response is the answer to one step.
type Response struct {
	SessionID string `json:"sessionid"`
	State     State  `json:"state"`
	// Issue carries the login's "issue" choice to the HTTP layer, which
	// turns a cookie success into the gatehouse-session cookie and removes
	// this field before answering. It travels in forwarded answers.
	Issue string `json:"issue,omitempty"`
	// Expires (Unix s) of a successful session, for the cookie's MaxAge.
	Expires int64 `json:"expires,omitempty"`
}
