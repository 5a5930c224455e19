package fido

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
)

// Reasons a ceremony fails. Every error from this package wraps exactly one
// of them (errors.Is), followed by the library's detail for the logs.
var (
	ErrState             = errors.New("the webauthn ceremony state is missing, invalid or expired")
	ErrMalformed         = errors.New("the authenticator response is malformed")
	ErrWrongOrigin       = errors.New("the response was made for another origin")
	ErrWrongRP           = errors.New("the response was made for another relying party")
	ErrChallenge         = errors.New("the response does not answer this challenge")
	ErrBadSignature      = errors.New("the signature does not verify")
	ErrUnknownCredential = errors.New("this credential is not registered for the account")
	ErrNoCredentials     = errors.New("the account has no credential of this kind")
	ErrUserNotVerified   = errors.New("the authenticator did not verify the user")
	ErrUserNotPresent    = errors.New("the authenticator did not test user presence")
	ErrAlreadyRegistered = errors.New("this authenticator is already registered for the account")
	ErrBadAttestation    = errors.New("the attestation statement does not verify")
	ErrNotTrusted        = errors.New("this authenticator's attestation is not trusted by your account policy")
	ErrVerification      = errors.New("the authenticator response does not verify")
)

// classify turns a go-webauthn error into one of the reasons above. The
// library reports most failures as a generic verification_error whose
// Details name the step, so the step is matched by text; anything not
// recognised stays ErrVerification rather than guessing.
func classify(err error) error {
	var uc *protocol.ErrorUnknownCredential
	if errors.As(err, &uc) {
		return fmt.Errorf("%w: %s", ErrUnknownCredential, uc.Err.Details)
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		return fmt.Errorf("%w: %v", ErrVerification, err)
	}
	text := strings.ToLower(pe.Details + " " + pe.DevInfo)
	var reason error
	detail := pe.Details
	switch {
	case pe.Type == protocol.ErrAssertionSignature.Type:
		reason = ErrBadSignature
	case strings.Contains(text, "challenge"):
		reason = ErrChallenge // DevInfo holds the challenges: not worth logging
	case strings.Contains(text, "origin"):
		reason, detail = ErrWrongOrigin, pe.Details+" ("+pe.DevInfo+")"
	case strings.Contains(text, "rp hash"):
		reason = ErrWrongRP
	case strings.Contains(text, "user verification required"):
		reason = ErrUserNotVerified
	case strings.Contains(text, "user presence required"):
		reason = ErrUserNotPresent
	case strings.Contains(text, "session has expired"):
		reason = ErrState
	case pe.Type == protocol.ErrInvalidAttestation.Type || pe.Type == protocol.ErrAttestation.Type ||
		pe.Type == protocol.ErrAttestationCertificate.Type:
		reason, detail = ErrBadAttestation, pe.Details+" "+pe.DevInfo
	case pe.Type == protocol.ErrParsingData.Type:
		reason = ErrMalformed
	default:
		reason, detail = ErrVerification, pe.Details+" "+pe.DevInfo
	}
	// The library appends its wrapped error even when there is none.
	detail = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(detail), ": <nil>"))
	return fmt.Errorf("%w: %s", reason, detail)
}
