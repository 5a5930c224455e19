package entry

import (
	"fmt"
)

// MaxPrivilegeExpiry caps privilege-expiry (account-policy.txt: at most 1 hour).
const MaxPrivilegeExpiry = 3600

// Policy is the account policy a group may carry (account-policy.txt). A
// zero field is "not set by this group" and takes no part in resolution.
type Policy struct {
	Enabled bool `json:"enabled"`
	// AuthExpiry: maximum session length in seconds.
	AuthExpiry int64 `json:"auth_expiry,omitempty"`
	// CredentialTypeMinimum: any, mfa, passkey or attested_passkey.
	CredentialTypeMinimum string `json:"credential_type_minimum,omitempty"`
	PasswordMinimumLength int    `json:"password_minimum_length,omitempty"`
	// PrivilegeExpiry: seconds of read-write after reauthentication (<= 3600).
	PrivilegeExpiry int64 `json:"privilege_expiry,omitempty"`
	// WebauthnAttestationCAList: nil when unset; resolution intersects.
	WebauthnAttestationCAList *AttestationCAList `json:"webauthn_attestation_ca_list,omitempty"`
}

// AttestationCAList is the fido-mds-tool shape: CAs keyed by an identifier,
// each with the device AAGUIDs allowed under it.
type AttestationCAList struct {
	CAs map[string]AttestationCA `json:"cas"`
}

// AttestationCA is one trusted attestation root.
type AttestationCA struct {
	// CA is the root certificate, DER (base64 in JSON).
	CA []byte `json:"ca"`
	// AAGUIDs maps allowed device AAGUIDs (uuid strings) to descriptions;
	// empty means any device under this CA.
	AAGUIDs map[string]string `json:"aaguids,omitempty"`
}

// Clone returns a deep copy.
func (p *Policy) Clone() *Policy {
	if p == nil {
		return nil
	}
	c := *p
	if p.WebauthnAttestationCAList != nil {
		l := AttestationCAList{CAs: map[string]AttestationCA{}}
		for k, v := range p.WebauthnAttestationCAList.CAs {
			a := AttestationCA{CA: append([]byte(nil), v.CA...)}
			if v.AAGUIDs != nil {
				a.AAGUIDs = map[string]string{}
				for g, d := range v.AAGUIDs {
					a.AAGUIDs[g] = d
				}
			}
			l.CAs[k] = a
		}
		c.WebauthnAttestationCAList = &l
	}
	return &c
}

// Validate checks a policy's values.
func (p *Policy) Validate() error {
	if p.AuthExpiry < 0 || p.PrivilegeExpiry < 0 || p.PasswordMinimumLength < 0 {
		return fmt.Errorf("policy values cannot be negative")
	}
	if p.PrivilegeExpiry > MaxPrivilegeExpiry {
		return fmt.Errorf("privilege-expiry is at most %d seconds", MaxPrivilegeExpiry)
	}
	if p.PasswordMinimumLength > 256 {
		return fmt.Errorf("password-minimum-length is at most 256")
	}
	if p.CredentialTypeMinimum != "" && CredRank(p.CredentialTypeMinimum) < 0 {
		return fmt.Errorf("credential-type-minimum must be one of any, kerberos, mfa, passkey, attested_passkey")
	}
	return nil
}

// Defaults of the policy on idm_all_persons at initialisation, and the
// fallback for accounts no enabled policy covers (service accounts).
const (
	DefaultAuthExpiry            = 8 * 3600
	DefaultPrivilegeExpiry       = 600
	DefaultPasswordMinimumLength = 10
)

// DefaultPolicy is the policy idm_all_persons starts with.
func DefaultPolicy() *Policy {
	return &Policy{Enabled: true, AuthExpiry: DefaultAuthExpiry, CredentialTypeMinimum: CredAny,
		PasswordMinimumLength: DefaultPasswordMinimumLength, PrivilegeExpiry: DefaultPrivilegeExpiry}
}
