package samlsp

import (
	"strings"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

const nameIDFormatEmail = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

// Attribute names (Name or FriendlyName, compared without case) that carry
// the address and the display name across common IdPs: LDAP-style names,
// their OIDs, and the WS-Federation claim URIs ADFS and Entra ID send.
var (
	emailAttributes = []string{
		"mail", "email", "emailaddress",
		"urn:oid:0.9.2342.19200300.100.1.3",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
	}
	displayNameAttributes = []string{
		"displayname", "cn", "name",
		"urn:oid:2.16.840.1.113730.3.1.241", "urn:oid:2.5.4.3",
		"http://schemas.microsoft.com/identity/claims/displayname",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
	}
)

// mfaClasses are AuthnContextClassRefs that mean more than one factor: the
// SAML 2.0 token (with its PIN) and PKI smartcard (card and activation PIN)
// classes, the REFEDS MFA profile and the Microsoft one. A class whose name
// says MultiFactor or TwoFactor counts too (see isMFAClass). Not X509 nor
// Smartcard: by the AuthnContext spec they are possession of a key or a
// card alone, one factor, and an MFA-trusted provider must not turn them
// into an mfa session.
var mfaClasses = map[string]bool{
	"urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken":               true,
	"urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI":                true,
	"urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract":     true,
	"urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered": true,
	"https://refeds.org/profile/mfa":                                     true,
	"http://schemas.microsoft.com/claims/multipleauthn":                  true,
	"http://schemas.microsoft.com/ws/2012/12/authmethod/multipleauthn":   true,
	"urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor":                 true,
	"urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactorContract":         true,
	"urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactorUnregistered":     true,
	"urn:oasis:names:tc:SAML:2.0:ac:classes:TwoFactor":                   true,
}

func isMFAClass(ref string) bool {
	ref = strings.TrimSpace(ref)
	if mfaClasses[ref] {
		return true
	}
	const classes = "urn:oasis:names:tc:SAML:2.0:ac:classes:"
	if rest, ok := strings.CutPrefix(ref, classes); ok {
		return strings.Contains(rest, "MultiFactor") || strings.Contains(rest, "TwoFactor")
	}
	return false
}

// identityOf maps a checked assertion to the identity the login uses.
//
// EmailVerified is always true: a SAML IdP is the organisation's directory,
// which the admin chose to trust for who its users are, and SAML has no
// per-attribute "verified" flag. Linking by email therefore trusts the IdP's
// directory data; an admin who does not want that should not configure the
// provider (or turn off auto-linking in the login).
func identityOf(a *xmlAssertion) upstream.Identity {
	id := upstream.Identity{
		Subject:       strings.TrimSpace(a.Subject.NameID.Value),
		EmailVerified: true,
		Claims:        map[string]any{},
	}
	byName := map[string][]string{} // lower-cased Name and FriendlyName → values
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			vals := make([]string, len(at.Values))
			for i, v := range at.Values {
				vals[i] = strings.TrimSpace(v)
			}
			var claim any = vals
			if len(vals) == 1 {
				claim = vals[0]
			}
			if at.Name != "" {
				id.Claims[at.Name] = claim
				byName[strings.ToLower(at.Name)] = vals
			}
			// FriendlyName is how crewjam, Shibboleth and others label OID
			// attributes ("mail", "uid"); add it when it does not shadow a
			// real attribute of that name.
			if fn := at.FriendlyName; fn != "" {
				if _, taken := id.Claims[fn]; !taken {
					id.Claims[fn] = claim
				}
				if _, taken := byName[strings.ToLower(fn)]; !taken {
					byName[strings.ToLower(fn)] = vals
				}
			}
		}
	}
	first := func(names []string) string {
		for _, n := range names {
			for _, v := range byName[n] {
				if v != "" {
					return v
				}
			}
		}
		return ""
	}
	if a.Subject.NameID.Format == nameIDFormatEmail && strings.Contains(id.Subject, "@") {
		id.Email = id.Subject
	} else {
		id.Email = first(emailAttributes)
	}
	id.DisplayName = first(displayNameAttributes)
	for _, st := range a.AuthnStatements {
		if st.Context != nil && isMFAClass(st.Context.ClassRef) {
			id.MFA = true
		}
	}
	return id
}
