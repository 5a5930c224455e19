package oauth2

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// Form binding (CSRF). The consent and device forms carry a token sealed
// under the cluster key that names the login session and what the form
// decides (the sealed auth request, or the user code): a POST counts only
// from the browser whose session was shown the page, for that request.
// Cross-origin protection stays as a first line; this one also holds
// against a same-site attacker and a forged form replayed from another
// session. Sealed, so any node can check what another node rendered.

const (
	bindConsent = "oauth2-consent-form"
	bindDevice  = "oauth2-device-form"
	bindLogout  = "oauth2-logout-form"
)

func bindDigest(sessionID, subject string) []byte {
	h := sha256.New()
	h.Write([]byte(sessionID))
	h.Write([]byte{0})
	h.Write([]byte(subject))
	return h.Sum(nil)
}

// formToken binds a form to the session and subject.
func (p *Provider) formToken(kind, sessionID, subject string) string {
	s, err := p.Sealer.Seal(bindDigest(sessionID, subject), []byte(kind))
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(s)
}

// checkFormToken reports whether tok was made by formToken for the same
// kind, session and subject.
func (p *Provider) checkFormToken(kind, tok, sessionID, subject string) bool {
	if tok == "" || len(tok) > 512 || sessionID == "" {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return false
	}
	plain, err := p.Sealer.Open(b, []byte(kind))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(plain, bindDigest(sessionID, subject)) == 1
}
