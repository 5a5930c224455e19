package entry

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Mechanisms of the stepped login (auth-protocol-rewrite.txt): each is one
// valid combination of factors, not a free mix.
const (
	MechPassword            = "password"
	MechGeneratedPassword   = "generatedpassword"
	MechPasswordMFA         = "passwordmfa"         // password + TOTP
	MechPasswordSecurityKey = "passwordsecuritykey" // password + WebAuthn without user verification
	MechPasskey             = "passkey"             // user-verified WebAuthn
	MechAttestedPasskey     = "attested_passkey"    // passkey whose attestation met the policy's CA list
	// MechKerberos is reserved for SPNEGO logins (its own credential type).
	MechKerberos = "kerberos"
	// MechSSO is a login through an upstream provider (OIDC, OAuth2,
	// SAML); MechSSOMFA one whose MFA-trusted provider asserted MFA, and
	// an LDAP bind followed by a local second factor.
	MechSSO    = "sso"
	MechSSOMFA = "sso_mfa"
)

// Credential types in the order of account-policy.txt, weakest first.
const (
	CredAny = "any"
	// CredExternal: an upstream provider vouched for the login; we cannot
	// see how strong it was, so it ranks just above a password.
	CredExternal = "external"
	// CredKerberos: a Kerberos ticket proves a login at the KDC, and no
	// password reaches us, but it is one factor: above a password, below MFA.
	CredKerberos        = "kerberos"
	CredMFA             = "mfa"
	CredPasskey         = "passkey"
	CredAttestedPasskey = "attested_passkey"
)

// CredTypes lists the credential types, weakest first.
var CredTypes = []string{CredAny, CredExternal, CredKerberos, CredMFA, CredPasskey, CredAttestedPasskey}

// CredRank is the position of a credential type in CredTypes, -1 if unknown.
func CredRank(t string) int { return slices.Index(CredTypes, t) }

// MechCredType is the credential type a mechanism proves.
func MechCredType(mech string) string {
	switch mech {
	case MechPasswordMFA, MechPasswordSecurityKey, MechSSOMFA:
		return CredMFA
	case MechSSO:
		return CredExternal
	case MechPasskey:
		return CredPasskey
	case MechAttestedPasskey:
		return CredAttestedPasskey
	case MechKerberos:
		return CredKerberos
	}
	return CredAny
}

// TOTP is one enrolled TOTP generator. The shared secret is sealed under
// the cluster encryption key (rule 3) with the aad TOTPAAD(account, id).
type TOTP struct {
	ID           string `json:"id"`
	Label        string `json:"label"`
	SealedSecret []byte `json:"sealed_secret"`
	// Algorithm is SHA1, SHA256 or SHA512; SHA1 only when the user accepted it.
	Algorithm string `json:"algorithm"`
	Digits    int    `json:"digits"`
	Period    int    `json:"period"`
	Created   int64  `json:"created"`
}

// TOTPAAD binds a sealed TOTP secret to its account and credential.
func TOTPAAD(account, id string) []byte { return []byte("totp:" + account + ":" + id) }

// WebAuthn is one enrolled WebAuthn credential (security key or passkey).
// Credential is go-webauthn's webauthn.Credential in JSON: public key,
// credential id, AAGUID, sign count, flags and attestation.
type WebAuthn struct {
	ID         string          `json:"id"`
	Label      string          `json:"label"`
	Credential json.RawMessage `json:"credential"`
	// Attested: the attestation chained to a CA of the account's resolved
	// webauthn-attestation-ca-list when it was enrolled.
	Attested bool  `json:"attested,omitempty"`
	Created  int64 `json:"created"`
}

// Credentials are what an account can log in with.
type Credentials struct {
	// PasswordHash is an argon2id PHC string made by the proposing node.
	PasswordHash string `json:"password_hash,omitempty"`
	// PasswordGenerated marks a server-generated password (service accounts).
	PasswordGenerated bool       `json:"password_generated,omitempty"`
	TOTP              []TOTP     `json:"totp,omitempty"`
	SecurityKeys      []WebAuthn `json:"security_keys,omitempty"`
	Passkeys          []WebAuthn `json:"passkeys,omitempty"`
}

// Clone returns a deep copy.
func (c Credentials) Clone() Credentials {
	c.TOTP = slices.Clone(c.TOTP)
	c.SecurityKeys = slices.Clone(c.SecurityKeys)
	c.Passkeys = slices.Clone(c.Passkeys)
	return c
}

// Empty reports whether the account has no way to log in.
func (c Credentials) Empty() bool {
	return c.PasswordHash == "" && len(c.Passkeys) == 0
}

// Mechanisms returns the mechanisms these credentials allow, strongest
// first. A password together with a second factor is only usable with that
// factor: adding TOTP or a security key upgrades the password.
func (c Credentials) Mechanisms() []string {
	var ms []string
	attested, plain := false, false
	for _, p := range c.Passkeys {
		if p.Attested {
			attested = true
		} else {
			plain = true
		}
	}
	if attested {
		ms = append(ms, MechAttestedPasskey)
	}
	if plain || attested {
		// An attested passkey is also a passkey.
		ms = append(ms, MechPasskey)
	}
	if c.PasswordHash != "" {
		switch {
		case c.PasswordGenerated:
			ms = append(ms, MechGeneratedPassword)
		case len(c.SecurityKeys) > 0 || len(c.TOTP) > 0:
			if len(c.SecurityKeys) > 0 {
				ms = append(ms, MechPasswordSecurityKey)
			}
			if len(c.TOTP) > 0 {
				ms = append(ms, MechPasswordMFA)
			}
		default:
			ms = append(ms, MechPassword)
		}
	}
	return ms
}

// Allowed filters mechanisms to those at or above the credential-type
// minimum.
func Allowed(mechs []string, minimum string) []string {
	min := CredRank(minimum)
	var out []string
	for _, m := range mechs {
		if CredRank(MechCredType(m)) >= min {
			out = append(out, m)
		}
	}
	return out
}

// Validate checks the shape of stored credentials.
func (c Credentials) Validate(class Class) error {
	if (class == Group || class == OAuth2Client) && (c.PasswordHash != "" || len(c.TOTP)+len(c.SecurityKeys)+len(c.Passkeys) > 0) {
		return fmt.Errorf("%ss have no credentials", class)
	}
	if c.PasswordGenerated && class != ServiceAccount {
		return fmt.Errorf("only service accounts have generated passwords")
	}
	// Only argon2id hashes are stored: anything else in this field would be
	// a password (or a weaker hash) in the log.
	if c.PasswordHash != "" && !strings.HasPrefix(c.PasswordHash, "$argon2id$") {
		return fmt.Errorf("the password hash is not an argon2id PHC string")
	}
	seen := map[string]bool{}
	for _, t := range c.TOTP {
		if t.ID == "" || len(t.SealedSecret) == 0 || seen[t.ID] {
			return fmt.Errorf("totp credential %q is incomplete or duplicated", t.Label)
		}
		switch t.Algorithm {
		case "SHA1", "SHA256", "SHA512":
		default:
			return fmt.Errorf("totp credential %q has unknown algorithm %q", t.Label, t.Algorithm)
		}
		if t.Digits != 6 && t.Digits != 8 || t.Period <= 0 || t.Period > 300 {
			return fmt.Errorf("totp credential %q has bad digits or period", t.Label)
		}
		seen[t.ID] = true
	}
	for _, w := range slices.Concat(c.SecurityKeys, c.Passkeys) {
		if w.ID == "" || len(w.Credential) == 0 || seen[w.ID] {
			return fmt.Errorf("webauthn credential %q is incomplete or duplicated", w.Label)
		}
		seen[w.ID] = true
	}
	if (len(c.TOTP) > 0 || len(c.SecurityKeys) > 0) && c.PasswordHash == "" {
		return fmt.Errorf("a second factor needs a password to go with it")
	}
	return nil
}
