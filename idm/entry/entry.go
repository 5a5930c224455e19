// Package entry is the identity model shared by the state machine and the
// services: entries, their classes, name rules and the built-in accounts.
// It is pure: no I/O, no clock, so fsm may import it.
package entry

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Class is what kind of entry a record is.
type Class string

const (
	Person         Class = "person"
	Group          Class = "group"
	ServiceAccount Class = "service_account"
	// OAuth2Client entries are relying parties of the OAuth2/OIDC
	// provider; their name is the client id.
	OAuth2Client Class = "oauth2_client"
)

// Valid reports whether c is a known class.
func (c Class) Valid() bool {
	return c == Person || c == Group || c == ServiceAccount || c == OAuth2Client
}

// Entry is one identity record as stored in the state machine.
type Entry struct {
	UUID        string   `json:"uuid"`
	Class       Class    `json:"class"`
	Name        string   `json:"name"`
	DisplayName string   `json:"displayname,omitempty"`
	Mail        []string `json:"mail,omitempty"`
	Description string   `json:"description,omitempty"`
	// Members holds the uuids of direct members (groups only), sorted.
	Members []string `json:"members,omitempty"`
	// Credentials (persons and service accounts); the JSON is inline.
	Credentials
	// SoftlockReset (Unix ms): failed attempts before it no longer count
	// towards a soft lock (gatehouse person credential softlock-reset).
	SoftlockReset int64 `json:"softlock_reset,omitempty"`
	// SessionsNotBefore (Unix ms): sessions issued before it are refused.
	// A credential reset through a reset token sets it, so that whoever
	// held the account before the reset is logged out everywhere.
	SessionsNotBefore int64 `json:"sessions_not_before,omitempty"`
	// KerberosPrincipals map Kerberos principals (name@REALM) to this
	// person for SPNEGO logins; each principal belongs to one entry.
	KerberosPrincipals []string `json:"krb_principals,omitempty"`
	// Disabled accounts cannot log in by any mechanism.
	Disabled bool `json:"disabled,omitempty"`
	// Policy is the account policy of a group (groups only).
	Policy *Policy `json:"policy,omitempty"`
	// OAuth2 holds the settings of an oauth2_client entry.
	OAuth2 *OAuth2Settings `json:"oauth2,omitempty"`
	// ExternalIDs are the upstream identities linked to a person.
	ExternalIDs []ExternalID `json:"external_ids,omitempty"`
	// AuthOverrides are per-user exceptions to the global SSO settings.
	AuthOverrides *AuthOverrides `json:"auth_overrides,omitempty"`
	Builtin       bool           `json:"builtin,omitempty"`
	// Version is the Raft index of the entry's last write; updates name the
	// version they were computed from (compare-and-set).
	Version uint64 `json:"version"`
	// Created and Updated are the proposers' clocks, Unix milliseconds.
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
}

// Clone returns a deep copy, so callers can modify it without touching a
// shared cached value.
func (e *Entry) Clone() *Entry {
	c := *e
	c.Mail = slices.Clone(e.Mail)
	c.Members = slices.Clone(e.Members)
	c.Credentials = e.Credentials.Clone()
	c.KerberosPrincipals = slices.Clone(e.KerberosPrincipals)
	c.Policy = e.Policy.Clone()
	c.OAuth2 = e.OAuth2.Clone()
	c.ExternalIDs = slices.Clone(e.ExternalIDs)
	if e.AuthOverrides != nil {
		o := *e.AuthOverrides
		c.AuthOverrides = &o
	}
	return &c
}

// MaxNameLen bounds names; long names make poor SPNs and log lines.
const MaxNameLen = 64

// ValidateName applies the name syntax rules: lower-case ASCII letters,
// digits, '_', '-' and '.', starting with a letter. Names are compared
// exactly, so mixed case would allow look-alike accounts; '@' is reserved for
// the spn and anything resembling a uuid could shadow one.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("name is empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name %q is longer than %d characters", name, MaxNameLen)
	}
	if c := name[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("name %q must start with a lower-case letter", name)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return fmt.Errorf("name %q may only hold lower-case letters, digits, '_', '-' and '.'", name)
		}
	}
	if LooksLikeUUID(name) {
		return fmt.Errorf("name %q looks like a uuid", name)
	}
	return nil
}

// LooksLikeUUID reports whether s has the 8-4-4-4-12 hex shape.
func LooksLikeUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if r != '-' {
				return false
			}
			continue
		}
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// MaxTextLen bounds display names and descriptions.
const MaxTextLen = 256

// ValidateText checks a free-text attribute.
func ValidateText(field, s string) error {
	if len(s) > MaxTextLen {
		return fmt.Errorf("%s is longer than %d bytes", field, MaxTextLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s holds a control character", field)
		}
	}
	return nil
}

// ValidateMail checks the rough shape of a mail address; delivery is not our
// business, but an address without '@' is a typo.
func ValidateMail(m string) error {
	at := strings.LastIndexByte(m, '@')
	if at <= 0 || at == len(m)-1 || len(m) > 254 || strings.ContainsAny(m, " \t\r\n<>") {
		return fmt.Errorf("mail %q is not an address", m)
	}
	return nil
}

// Validate checks every attribute of an entry that a command would store.
func (e *Entry) Validate() error {
	if !LooksLikeUUID(e.UUID) {
		return fmt.Errorf("uuid %q is not a uuid", e.UUID)
	}
	if !e.Class.Valid() {
		return fmt.Errorf("class %q is not person, group, service_account or oauth2_client", e.Class)
	}
	if err := ValidateName(e.Name); err != nil {
		return err
	}
	if err := ValidateText("displayname", e.DisplayName); err != nil {
		return err
	}
	if err := ValidateText("description", e.Description); err != nil {
		return err
	}
	for _, m := range e.Mail {
		if err := ValidateMail(m); err != nil {
			return err
		}
	}
	if e.Class != Group && len(e.Members) > 0 {
		return fmt.Errorf("only groups have members")
	}
	if err := e.Credentials.Validate(e.Class); err != nil {
		return err
	}
	if len(e.KerberosPrincipals) > 0 && e.Class != Person {
		return fmt.Errorf("only persons have Kerberos principals")
	}
	if len(e.KerberosPrincipals) > 32 {
		return fmt.Errorf("at most 32 Kerberos principals")
	}
	for i, p := range e.KerberosPrincipals {
		if err := ValidatePrincipal(p); err != nil {
			return err
		}
		if slices.Contains(e.KerberosPrincipals[:i], p) {
			return fmt.Errorf("Kerberos principal %q is listed twice", p)
		}
	}
	if e.Disabled && (e.Builtin || e.Class == Group) {
		return fmt.Errorf("only persons and service accounts that are not built in can be disabled")
	}
	if (e.Class == OAuth2Client) != (e.OAuth2 != nil) {
		return fmt.Errorf("oauth2 settings belong to oauth2_client entries, and every oauth2_client has them")
	}
	if e.OAuth2 != nil {
		if err := e.OAuth2.Validate(); err != nil {
			return err
		}
	}
	if e.Class == OAuth2Client && (len(e.Mail) > 0 || e.Disabled || len(e.KerberosPrincipals) > 0) {
		return fmt.Errorf("an oauth2 client has no mail, Kerberos principals or disabled flag of its own")
	}
	if err := validateExternal(e); err != nil {
		return err
	}
	if e.Policy != nil {
		if e.Class != Group {
			return fmt.Errorf("only groups carry an account policy")
		}
		if err := e.Policy.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// ValidatePrincipal checks a Kerberos principal name: name@REALM, with a
// realm, no whitespace or control characters, at most 256 bytes. Names are
// compared exactly, as the KDC does.
func ValidatePrincipal(p string) error {
	at := strings.LastIndexByte(p, '@')
	if at <= 0 || at == len(p)-1 || len(p) > 256 {
		return fmt.Errorf("Kerberos principal %q is not name@REALM", p)
	}
	for _, r := range p {
		if r <= 0x20 || r == 0x7f {
			return fmt.Errorf("Kerberos principal %q holds a space or control character", p)
		}
	}
	return nil
}
