package entry

import (
	"fmt"
	"slices"
)

// ExternalID links an account to an identity at an upstream provider
// (OIDC, OAuth2, LDAP or SAML). Provider|Subject is unique across all
// entries.
type ExternalID struct {
	// Provider is the upstream provider's id (its uuid).
	Provider string `json:"provider"`
	// Subject is the provider's stable id for the user (OIDC sub, SAML
	// NameID, LDAP DN, OAuth2 user id).
	Subject string `json:"subject"`
	// Email as the provider last reported it, for display.
	Email string `json:"email,omitempty"`
	// Linked is the proposer's time of linking (Unix ms).
	Linked int64 `json:"linked"`
}

// ExternalKey is the unique index key of a linked identity.
func ExternalKey(provider, subject string) string { return provider + "|" + subject }

// AuthOverrides are an admin's per-user exceptions to the global SSO
// settings (sso-upstream-providers.txt, "Per-User Authentication
// Overrides"): nil follows the global setting, true forces on, false off.
type AuthOverrides struct {
	LocalAuth *bool  `json:"local_auth,omitempty"`
	SSOAuth   *bool  `json:"sso_auth,omitempty"`
	Note      string `json:"note,omitempty"`
}

func validateExternal(e *Entry) error {
	if len(e.ExternalIDs) > 0 && e.Class != Person {
		return fmt.Errorf("only persons have linked upstream identities")
	}
	if len(e.ExternalIDs) > 32 {
		return fmt.Errorf("at most 32 linked identities")
	}
	for i, x := range e.ExternalIDs {
		if !LooksLikeUUID(x.Provider) {
			return fmt.Errorf("linked identity: provider %q is not a uuid", x.Provider)
		}
		if x.Subject == "" || len(x.Subject) > 512 {
			return fmt.Errorf("linked identity: subject must be 1 to 512 bytes")
		}
		if err := ValidateText("linked identity email", x.Email); err != nil {
			return err
		}
		if slices.ContainsFunc(e.ExternalIDs[:i], func(o ExternalID) bool { return o.Provider == x.Provider && o.Subject == x.Subject }) {
			return fmt.Errorf("linked identity %s is listed twice", ExternalKey(x.Provider, x.Subject))
		}
	}
	if e.AuthOverrides != nil {
		if e.Class != Person && e.Class != ServiceAccount {
			return fmt.Errorf("only accounts carry authentication overrides")
		}
		if err := ValidateText("override note", e.AuthOverrides.Note); err != nil {
			return err
		}
	}
	return nil
}
