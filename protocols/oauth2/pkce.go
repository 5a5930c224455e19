package oauth2

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
)

// PKCE (RFC 7636), S256 only.

// validChallenge: an S256 challenge is the unpadded base64url of a
// SHA-256, so exactly 43 characters of the base64url alphabet.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// validVerifier: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~]
// (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// checkPKCE verifies a token request's code_verifier against the code's
// challenge. A code issued without a challenge (a basic client with PKCE
// disabled) must not be redeemed with a verifier: that mismatch is the
// PKCE downgrade of RFC 9700 §4.8.2.
func checkPKCE(challenge, verifier string) error {
	if challenge == "" {
		if verifier != "" {
			return errors.New("code_verifier sent for a code issued without code_challenge")
		}
		return nil
	}
	if !validVerifier(verifier) {
		return errors.New("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)")
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) != 1 {
		return errors.New("PKCE verification failed (code_verifier)")
	}
	return nil
}
