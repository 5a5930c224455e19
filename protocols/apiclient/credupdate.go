package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// CredStatus is the state of a credential-update session (docs/api.md).
type CredStatus struct {
	Account    string   `json:"account"`
	Name       string   `json:"name"`
	SPN        string   `json:"spn"`
	Mechanisms []string `json:"mechanisms"`
	Password   bool     `json:"password"`
	TOTP       []struct {
		ID        string `json:"id"`
		Label     string `json:"label"`
		Algorithm string `json:"algorithm"`
	} `json:"totp"`
	Passkeys []struct {
		ID       string `json:"id"`
		Label    string `json:"label"`
		Attested bool   `json:"attested"`
	} `json:"passkeys"`
	SecurityKeys []struct {
		ID    string `json:"id"`
		Label string `json:"label"`
	} `json:"security_keys"`
	Policy struct {
		CredentialTypeMinimum string `json:"credential_type_minimum"`
		PasswordMinimumLength int    `json:"password_minimum_length"`
	} `json:"policy"`
	CanCommit bool     `json:"can_commit"`
	Warnings  []string `json:"warnings"`
}

// CredUpdate is an open credential-update session.
type CredUpdate struct {
	ID     string     `json:"id"`
	Status CredStatus `json:"status"`
}

// PasswordFeedback is zxcvbn's advice on a refused password.
type PasswordFeedback struct {
	Warning     string   `json:"warning"`
	Suggestions []string `json:"suggestions"`
}

// PasswordCheck is the answer of the password check: OK, or why not.
type PasswordCheck struct {
	OK       bool              `json:"ok"`
	Error    string            `json:"error"`
	Feedback *PasswordFeedback `json:"feedback"`
}

// TOTPEnrolment is a generated TOTP waiting for a code to verify it.
type TOTPEnrolment struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	Algorithm string `json:"algorithm"`
	URI       string `json:"uri"`
	Secret    string `json:"secret"`
	QRPNG     []byte `json:"qr_png"`
}

// ResetToken is a one-time credential reset token and its link.
type ResetToken struct {
	Token   string    `json:"token"`
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

const pathCredUpdate = "/v1/credential/update"

func credUpdatePath(id, rest string) string {
	return pathCredUpdate + "/" + url.PathEscape(id) + rest
}

// OpenCredUpdate opens a credential update for the logged-in account (the
// session must be read-write: reauthenticate first).
func (c *Client) OpenCredUpdate(ctx context.Context) (*CredUpdate, error) {
	var out CredUpdate
	_, err := c.Do(ctx, http.MethodPost, pathCredUpdate, nil, &out)
	return &out, err
}

// OpenCredUpdateReset opens a credential update with a reset token; the
// client needs no session.
func (c *Client) OpenCredUpdateReset(ctx context.Context, token string) (*CredUpdate, error) {
	var out CredUpdate
	_, err := c.Do(ctx, http.MethodPost, pathCredUpdate+"/reset", map[string]string{"token": token}, &out)
	return &out, err
}

func (c *Client) credStatus(ctx context.Context, method, path string, in any) (*CredStatus, error) {
	var out CredStatus
	_, err := c.Do(ctx, method, path, in, &out)
	return &out, err
}

// CredUpdateStatus returns the session's working state.
func (c *Client) CredUpdateStatus(ctx context.Context, id string) (*CredStatus, error) {
	return c.credStatus(ctx, http.MethodGet, credUpdatePath(id, ""), nil)
}

// CredUpdateSetPassword sets the password; a weak one is an *Error with
// code password_quality whose message carries zxcvbn's feedback.
func (c *Client) CredUpdateSetPassword(ctx context.Context, id, password string) (*CredStatus, error) {
	return c.credStatus(ctx, http.MethodPost, credUpdatePath(id, "/password"), map[string]string{"password": password})
}

// CredUpdateCheckPassword says whether a password would be accepted.
func (c *Client) CredUpdateCheckPassword(ctx context.Context, id, password string) (*PasswordCheck, error) {
	var out PasswordCheck
	_, err := c.Do(ctx, http.MethodPost, credUpdatePath(id, "/password/check"), map[string]string{"password": password}, &out)
	return &out, err
}

// CredUpdateGenerateTOTP makes a TOTP secret (algorithm "" is SHA256).
func (c *Client) CredUpdateGenerateTOTP(ctx context.Context, id, label, algorithm string) (*TOTPEnrolment, error) {
	var out TOTPEnrolment
	_, err := c.Do(ctx, http.MethodPost, credUpdatePath(id, "/totp/generate"), map[string]string{"label": label, "algorithm": algorithm}, &out)
	return &out, err
}

// CredUpdateVerifyTOTP keeps the generated TOTP once code matches.
func (c *Client) CredUpdateVerifyTOTP(ctx context.Context, id, code string, acceptSHA1 bool) (*CredStatus, error) {
	return c.credStatus(ctx, http.MethodPost, credUpdatePath(id, "/totp/verify"), map[string]any{"code": code, "accept_sha1": acceptSHA1})
}

// CredUpdateRemoveTOTP removes a TOTP generator.
func (c *Client) CredUpdateRemoveTOTP(ctx context.Context, id, totpID string) (*CredStatus, error) {
	return c.credStatus(ctx, http.MethodDelete, credUpdatePath(id, "/totp/"+url.PathEscape(totpID)), nil)
}

// CredUpdateBeginWebAuthn starts enrolling a "passkey" or "securitykey":
// the options are for navigator.credentials.create.
func (c *Client) CredUpdateBeginWebAuthn(ctx context.Context, id, kind, label string) (json.RawMessage, error) {
	var out struct {
		Options json.RawMessage `json:"options"`
	}
	_, err := c.Do(ctx, http.MethodPost, credUpdatePath(id, "/webauthn/begin"), map[string]string{"kind": kind, "label": label}, &out)
	return out.Options, err
}

// CredUpdateFinishWebAuthn sends the authenticator's PublicKeyCredential.
func (c *Client) CredUpdateFinishWebAuthn(ctx context.Context, id string, credential json.RawMessage) (*CredStatus, error) {
	return c.credStatus(ctx, http.MethodPost, credUpdatePath(id, "/webauthn/finish"), map[string]json.RawMessage{"credential": credential})
}

// CredUpdateRemoveWebAuthn removes a passkey or security key.
func (c *Client) CredUpdateRemoveWebAuthn(ctx context.Context, id, credID string) (*CredStatus, error) {
	return c.credStatus(ctx, http.MethodDelete, credUpdatePath(id, "/webauthn/"+url.PathEscape(credID)), nil)
}

// CredUpdateCommit writes the new credentials (one command in the log)
// and closes the session; it returns the commit index.
func (c *Client) CredUpdateCommit(ctx context.Context, id string) (uint64, error) {
	var out struct {
		Index uint64 `json:"index"`
	}
	_, err := c.Do(ctx, http.MethodPost, credUpdatePath(id, "/commit"), nil, &out)
	return out.Index, err
}

// CredUpdateCancel closes the session without changing anything.
func (c *Client) CredUpdateCancel(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, credUpdatePath(id, ""), nil, nil)
	return err
}

// CreateResetToken issues a one-time reset token for a person; ttl 0 is
// the server's default (one hour).
func (c *Client) CreateResetToken(ctx context.Context, person string, ttl time.Duration) (*ResetToken, error) {
	var in any
	if ttl > 0 {
		in = map[string]int64{"ttl": int64(ttl / time.Second)}
	}
	var out ResetToken
	_, err := c.Do(ctx, http.MethodPost, entryPath(pathPerson, person)+"/credential/reset_token", in, &out)
	return &out, err
}

// SoftlockReset forgives the failed logins of a person (serviceAccount
// false) or a service account so far.
func (c *Client) SoftlockReset(ctx context.Context, account string, serviceAccount bool) error {
	coll := pathPerson
	if serviceAccount {
		coll = pathServiceAccount
	}
	_, err := c.Do(ctx, http.MethodPost, entryPath(coll, account)+"/credential/softlock_reset", nil, nil)
	return err
}

// GenerateServiceAccountPassword gives a service account a new generated
// password and returns it (the only time it is shown).
func (c *Client) GenerateServiceAccountPassword(ctx context.Context, account string) (string, error) {
	var out struct {
		Password string `json:"password"`
	}
	_, err := c.Do(ctx, http.MethodPost, entryPath(pathServiceAccount, account)+"/credential/generate", nil, &out)
	return out.Password, err
}
