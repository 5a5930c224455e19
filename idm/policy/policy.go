package policy

import (
	"bytes"
	"maps"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Resolved is the effective policy of one account.
type Resolved struct {
	AuthExpiry            time.Duration
	CredentialTypeMinimum string
	PasswordMinimumLength int
	PrivilegeExpiry       time.Duration
	// AttestationCAs restricts which WebAuthn devices may be enrolled; nil
	// means no restriction. A non-nil list with no CAs means the account's
	// groups agree on no device at all, so no attested enrolment can pass.
	AttestationCAs *entry.AttestationCAList
	// Groups are the uuids of the groups whose enabled policy took part,
	// sorted as given; for explaining a result, not for enforcement.
	Groups []string
}

// Default is what applies when no enabled policy sets anything: the values
// idm_all_persons starts with.
func Default() Resolved {
	return Resolved{
		AuthExpiry:            entry.DefaultAuthExpiry * time.Second,
		CredentialTypeMinimum: entry.CredAny,
		PasswordMinimumLength: entry.DefaultPasswordMinimumLength,
		PrivilegeExpiry:       entry.DefaultPrivilegeExpiry * time.Second,
	}
}

// Resolve combines policies by the rules of account-policy.txt: smallest
// auth-expiry and privilege-expiry, largest credential-type-minimum and
// password-minimum-length, and the intersection of equal entries of the
// WebAuthn attestation CA lists. Only enabled policies count; a zero field
// is "not set" and takes no part. Settings no policy sets take Default().
func Resolve(ps []*entry.Policy) Resolved {
	return resolve(ps, nil)
}

func resolve(ps []*entry.Policy, groups []string) Resolved {
	out := Default()
	var authExp, privExp int64
	minLen, credRank := 0, -1
	var cas *entry.AttestationCAList
	for i, p := range ps {
		if p == nil || !p.Enabled {
			continue
		}
		if groups != nil {
			out.Groups = append(out.Groups, groups[i])
		}
		if p.AuthExpiry > 0 && (authExp == 0 || p.AuthExpiry < authExp) {
			authExp = p.AuthExpiry
		}
		if p.PrivilegeExpiry > 0 && (privExp == 0 || p.PrivilegeExpiry < privExp) {
			privExp = p.PrivilegeExpiry
		}
		if p.PasswordMinimumLength > minLen {
			minLen = p.PasswordMinimumLength
		}
		if r := entry.CredRank(p.CredentialTypeMinimum); r > credRank {
			credRank = r
		}
		if l := p.WebauthnAttestationCAList; l != nil {
			if cas == nil {
				cas = cloneList(l)
			} else {
				intersect(cas, l)
			}
		}
	}
	if authExp > 0 {
		out.AuthExpiry = time.Duration(authExp) * time.Second
	}
	if privExp > 0 {
		// Stored policies are validated, but the cap is a security bound,
		// so it is applied here too rather than trusted.
		out.PrivilegeExpiry = time.Duration(min(privExp, entry.MaxPrivilegeExpiry)) * time.Second
	}
	if minLen > 0 {
		out.PasswordMinimumLength = minLen
	}
	if credRank >= 0 {
		out.CredentialTypeMinimum = entry.CredTypes[credRank]
	}
	out.AttestationCAs = cas
	return out
}

// ForAccount resolves the policies of every group the account is in,
// directly or nested (persons are implicitly in idm_all_persons).
func ForAccount(st *fsm.FSM, accountUUID string) Resolved {
	groups, ps := st.GroupPolicies(accountUUID)
	return resolve(ps, groups)
}

// intersect keeps in acc only the CAs that l holds with an equal value.
func intersect(acc, l *entry.AttestationCAList) {
	for k, v := range acc.CAs {
		if w, ok := l.CAs[k]; !ok || !equalCA(v, w) {
			delete(acc.CAs, k)
		}
	}
}

func equalCA(a, b entry.AttestationCA) bool {
	return bytes.Equal(a.CA, b.CA) && maps.Equal(a.AAGUIDs, b.AAGUIDs)
}

func cloneList(l *entry.AttestationCAList) *entry.AttestationCAList {
	return (&entry.Policy{WebauthnAttestationCAList: l}).Clone().WebauthnAttestationCAList
}
