package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// HeaderAuthSession carries the in-flight login's session id between steps.
const HeaderAuthSession = "X-Gatehouse-Auth-Session"

// AuthStep is one request of the stepped protocol; set exactly one field.
// Init is a pointer because an empty name starts a usernameless passkey
// login.
type AuthStep struct {
	Init  *string   `json:"init,omitempty"`
	Begin string    `json:"begin,omitempty"`
	Cred  *AuthCred `json:"cred,omitempty"`
}

// InitStep names the account to log in ("" for a usernameless passkey).
func InitStep(name string) AuthStep { return AuthStep{Init: &name} }

// AuthCred answers the current challenge; set one field.
type AuthCred struct {
	Password    string          `json:"password,omitempty"`
	TOTP        *uint32         `json:"totp,omitempty"`
	Passkey     json.RawMessage `json:"passkey,omitempty"`
	SecurityKey json.RawMessage `json:"securitykey,omitempty"`
}

// Challenge is one thing the server asks for: "password", "totp", or a
// WebAuthn ceremony ("passkey", "securitykey") with its options.
type Challenge struct {
	Kind    string
	Options json.RawMessage
}

// UnmarshalJSON reads either "password" or {"passkey": options}.
func (c *Challenge) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.Kind)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	if len(m) != 1 {
		return fmt.Errorf("challenge: want one kind, got %d", len(m))
	}
	for k, v := range m {
		c.Kind, c.Options = k, v
	}
	return nil
}

// MarshalJSON writes the wire form back.
func (c Challenge) MarshalJSON() ([]byte, error) {
	if c.Options == nil {
		return json.Marshal(c.Kind)
	}
	return json.Marshal(map[string]json.RawMessage{c.Kind: c.Options})
}

// AuthState is the server's answer to a step; exactly one field is set.
type AuthState struct {
	Choose   []string    `json:"choose,omitempty"`
	Continue []Challenge `json:"continue,omitempty"`
	Denied   *string     `json:"denied,omitempty"`
	Success  *string     `json:"success,omitempty"`
}

// AuthResponse is the body of a POST /v1/auth answer.
type AuthResponse struct {
	SessionID string    `json:"sessionid"`
	State     AuthState `json:"state"`
}

// Auth sends one step of POST /v1/auth. sessionID is "" for init and the id
// the previous step returned otherwise. A denial is returned as a state, not
// as an error, so callers driving other mechanisms can inspect it.
func (c *Client) Auth(ctx context.Context, sessionID string, step AuthStep) (*AuthResponse, error) {
	hdr := http.Header{}
	if sessionID != "" {
		hdr.Set(HeaderAuthSession, sessionID)
	}
	var out AuthResponse
	resp, err := c.do(ctx, http.MethodPost, "/v1/auth", hdr, struct {
		Step AuthStep `json:"step"`
	}{step}, &out)
	if err != nil {
		return nil, err
	}
	if h := resp.Header.Get(HeaderAuthSession); h != "" {
		out.SessionID = h
	}
	if out.SessionID == "" {
		out.SessionID = sessionID
	}
	return &out, nil
}

// Answerer answers challenges during a login: pick chooses a mechanism
// from the offer, answer answers one challenge.
type Answerer struct {
	Pick   func(offered []string) (string, error)
	Answer func(ch Challenge) (AuthCred, error)
}

// PasswordAnswerer logs in with a password (and, when totp is not nil,
// a TOTP code from it).
func PasswordAnswerer(password string, totp func() (uint32, error)) Answerer {
	return Answerer{
		Pick: func(offered []string) (string, error) {
			for _, m := range []string{"password", "generatedpassword", "passwordmfa"} {
				if slices.Contains(offered, m) && (m != "passwordmfa" || totp != nil) {
					return m, nil
				}
			}
			return "", &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
				Message: fmt.Sprintf("this client cannot log in with any of the offered mechanisms %v", offered)}
		},
		Answer: func(ch Challenge) (AuthCred, error) {
			switch ch.Kind {
			case "password":
				return AuthCred{Password: password}, nil
			case "totp":
				if totp != nil {
					code, err := totp()
					return AuthCred{TOTP: &code}, err
				}
			}
			return AuthCred{}, &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
				Message: fmt.Sprintf("login needs a %s, which this client cannot give", ch.Kind)}
		},
	}
}

// Drive runs the steps after init (or after POST /v1/reauth) until
// success, and returns the session token. A denial is an *Error with
// status 401 whose Message is the server's reason.
func (c *Client) Drive(ctx context.Context, r *AuthResponse, a Answerer) (string, error) {
	for range 16 {
		if err := denial(r); err != nil {
			return "", err
		}
		var step AuthStep
		switch {
		case r.State.Success != nil:
			return *r.State.Success, nil
		case len(r.State.Choose) > 0:
			m, err := a.Pick(r.State.Choose)
			if err != nil {
				return "", err
			}
			step.Begin = m
		case len(r.State.Continue) > 0:
			cred, err := a.Answer(r.State.Continue[0])
			if err != nil {
				return "", err
			}
			step.Cred = &cred
		default:
			return "", fmt.Errorf("the server's login answer holds no state")
		}
		var err error
		if r, err = c.Auth(ctx, r.SessionID, step); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("login did not finish after 16 steps")
}

// Login logs in as name (read-only session) and uses the token from then on.
func (c *Client) Login(ctx context.Context, name string, a Answerer) (string, error) {
	r, err := c.Auth(ctx, "", InitStep(name))
	if err != nil {
		return "", err
	}
	tok, err := c.Drive(ctx, r, a)
	if err != nil {
		return "", err
	}
	c.SetToken(tok)
	return tok, nil
}

// Reauth re-authenticates the current session with the same credential;
// the new token is read-write for the account's privilege expiry.
func (c *Client) Reauth(ctx context.Context, a Answerer) (string, error) {
	var r AuthResponse
	resp, err := c.do(ctx, http.MethodPost, "/v1/reauth", nil, struct{}{}, &r)
	if err != nil {
		return "", err
	}
	if h := resp.Header.Get(HeaderAuthSession); h != "" {
		r.SessionID = h
	}
	tok, err := c.Drive(ctx, &r, a)
	if err != nil {
		return "", err
	}
	c.SetToken(tok)
	return tok, nil
}

// LoginPassword logs in with a password; the session is read-only.
func (c *Client) LoginPassword(ctx context.Context, name, password string) (string, error) {
	return c.Login(ctx, name, PasswordAnswerer(password, nil))
}

// LoginPrivileged logs in with a password and re-authenticates at once,
// for administration: the session may write for the privilege expiry.
func (c *Client) LoginPrivileged(ctx context.Context, name, password string) (string, error) {
	if _, err := c.LoginPassword(ctx, name, password); err != nil {
		return "", err
	}
	return c.Reauth(ctx, PasswordAnswerer(password, nil))
}

func denial(r *AuthResponse) error {
	if r.State.Denied == nil {
		return nil
	}
	return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: *r.State.Denied}
}

// Self returns the entry of the token's account.
func (c *Client) Self(ctx context.Context) (*Entry, error) {
	var e Entry
	if _, err := c.Do(ctx, http.MethodGet, "/v1/self", nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Logout revokes the token's session on the server and forgets the token.
func (c *Client) Logout(ctx context.Context) error {
	if _, err := c.Do(ctx, http.MethodPost, "/v1/logout", nil, nil); err != nil {
		return err
	}
	c.SetToken("")
	return nil
}

// Session is a recorded login session.
type Session struct {
	ID        string    `json:"id"`
	Account   string    `json:"account"`
	Mechanism string    `json:"mechanism"`
	Issued    time.Time `json:"issued"`
	Expires   time.Time `json:"expires"`
	Node      string    `json:"node,omitempty"`
	Current   bool      `json:"current,omitempty"`
}

// Sessions lists the recorded sessions of an account.
func (c *Client) Sessions(ctx context.Context, account string) ([]Session, error) {
	var out struct {
		Sessions []Session `json:"sessions"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/v1/session/"+url.PathEscape(account), nil, &out); err != nil {
		return nil, err
	}
	return out.Sessions, nil
}

// DestroySession revokes a session by id.
func (c *Client) DestroySession(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/v1/session/"+url.PathEscape(id), nil, nil)
	return err
}

// CurrentSession describes the client's own session.
type CurrentSession struct {
	ID        string    `json:"id"`
	Account   string    `json:"account"`
	Name      string    `json:"name"`
	Mechanism string    `json:"mechanism"`
	Issued    time.Time `json:"issued"`
	Expires   time.Time `json:"expires"`
	// ReadWriteUntil is zero for a read-only session.
	ReadWriteUntil time.Time `json:"read_write_until"`
}

// Session returns the client's own session.
func (c *Client) Session(ctx context.Context) (*CurrentSession, error) {
	var out CurrentSession
	if _, err := c.Do(ctx, http.MethodGet, "/v1/session", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
