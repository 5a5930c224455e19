package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

// HeaderAuthSession carries the in-flight login's session id between steps.
const HeaderAuthSession = "X-Gatehouse-Auth-Session"

// AuthStep is one request of the stepped protocol; set exactly one field.
type AuthStep struct {
	Init  string    `json:"init,omitempty"`
	Begin string    `json:"begin,omitempty"`
	Cred  *AuthCred `json:"cred,omitempty"`
}

// AuthCred answers the current challenge.
type AuthCred struct {
	Password string `json:"password,omitempty"`
}

// AuthState is the server's answer to a step; exactly one field is set.
type AuthState struct {
	Choose   []string `json:"choose,omitempty"`
	Continue []string `json:"continue,omitempty"`
	Denied   *string  `json:"denied,omitempty"`
	Success  *string  `json:"success,omitempty"`
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

// LoginPassword runs init → begin password → cred and returns the session
// token, which the client also uses from then on. A denial, or a server that
// does not offer password for this account, is an *Error with status 401
// whose Message is the server's reason.
func (c *Client) LoginPassword(ctx context.Context, name, password string) (string, error) {
	// Server errors are returned unwrapped so that the CLI prints the
	// server's reason exactly; transport errors already name the request.
	r, err := c.Auth(ctx, "", AuthStep{Init: name})
	if err != nil {
		return "", err
	}
	if err := denial(r); err != nil {
		return "", err
	}
	if !slices.Contains(r.State.Choose, "password") {
		return "", &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
			Message: fmt.Sprintf("password login is not offered for this account (offered: %v)", r.State.Choose)}
	}
	r, err = c.Auth(ctx, r.SessionID, AuthStep{Begin: "password"})
	if err != nil {
		return "", err
	}
	if err := denial(r); err != nil {
		return "", err
	}
	r, err = c.Auth(ctx, r.SessionID, AuthStep{Cred: &AuthCred{Password: password}})
	if err != nil {
		return "", err
	}
	if err := denial(r); err != nil {
		return "", err
	}
	if r.State.Success == nil || *r.State.Success == "" {
		// A second factor was asked for; the CLI only knows passwords.
		return "", &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
			Message: fmt.Sprintf("login needs a further step this client cannot answer (%v)", r.State.Continue)}
	}
	c.SetToken(*r.State.Success)
	return *r.State.Success, nil
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

// Logout ends the token's session on the server and forgets the token.
func (c *Client) Logout(ctx context.Context) error {
	if _, err := c.Do(ctx, http.MethodPost, "/v1/logout", nil, nil); err != nil {
		return err
	}
	c.SetToken("")
	return nil
}
