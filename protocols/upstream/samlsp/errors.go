package samlsp

import "errors"

// Every refusal of ParseResponse wraps one of these, so callers can
// errors.Is them and the text names the reason (for the audit log and the
// user's "login failed" page).
var (
	ErrMalformed     = errors.New("malformed SAML response")
	ErrNotSigned     = errors.New("assertion not signed")
	ErrSignature     = errors.New("signature invalid")
	ErrNotEncrypted  = errors.New("assertion not encrypted")
	ErrDecrypt       = errors.New("Failed to decrypt assertion") //nolint:staticcheck // the seed's words
	ErrIssuer        = errors.New("wrong issuer")
	ErrStatus        = errors.New("IdP refused the login")
	ErrRecipient     = errors.New("wrong recipient")
	ErrUnsolicited   = errors.New("unsolicited response")
	ErrExpired       = errors.New("assertion expired")
	ErrNotYetValid   = errors.New("assertion not yet valid")
	ErrAudience      = errors.New("wrong audience")
	ErrNoSubject     = errors.New("assertion has no subject")
	ErrNoAssertionID = errors.New("assertion has no ID")
)
