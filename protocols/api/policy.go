package api

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/policy"
)

// Account policy (docs/account-policy.md): read and change the policy a
// group carries, and read the policy an account resolves to.
func (s *Server) routesPolicy(route routeFunc) {
	route("GET /v1/group/{id}/account_policy", readOnly, s.groupPolicy)
	route("POST /v1/group/{id}/account_policy", readWrite, s.changeGroupPolicy)
	route("GET /v1/account/{id}/policy", readOnly, s.accountPolicy)
}

// GroupPolicyView is a group's own account policy. In Policy a zero value
// means "not set by this group".
type GroupPolicyView struct {
	Group  string       `json:"group"`
	UUID   string       `json:"uuid"`
	Policy entry.Policy `json:"policy"`
	// Notice tells what was stored differently from what was asked.
	Notice string `json:"notice,omitempty"`
}

func groupPolicyView(g *entry.Entry) GroupPolicyView {
	v := GroupPolicyView{Group: g.Name, UUID: g.UUID}
	if g.Policy != nil {
		v.Policy = *g.Policy
	}
	return v
}

func (s *Server) groupPolicy(r *http.Request, _ idm.Actor) (result, error) {
	g, err := s.lookup(r, entry.Group)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: groupPolicyView(g)}, nil
}

// policyChange is the body of POST …/account_policy: exactly one field,
// as each CLI command changes one setting.
type policyChange struct {
	Enable                *bool           `json:"enable"`
	AuthExpiry            *int64          `json:"auth_expiry"`
	CredentialTypeMinimum *string         `json:"credential_type_minimum"`
	PasswordMinimumLength *int            `json:"password_minimum_length"`
	PrivilegeExpiry       *int64          `json:"privilege_expiry"`
	CAList                json.RawMessage `json:"webauthn_attestation_ca_list"`
}

func (c policyChange) count() int {
	n := 0
	for _, set := range []bool{c.Enable != nil, c.AuthExpiry != nil, c.CredentialTypeMinimum != nil,
		c.PasswordMinimumLength != nil, c.PrivilegeExpiry != nil, len(c.CAList) > 0} {
		if set {
			n++
		}
	}
	return n
}

func (s *Server) changeGroupPolicy(r *http.Request, a idm.Actor) (result, error) {
	var in policyChange
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	if in.count() != 1 {
		return result{}, idm.Invalid("send exactly one of enable, auth_expiry, credential_type_minimum, password_minimum_length, privilege_expiry, webauthn_attestation_ca_list")
	}
	g, err := s.lookup(r, entry.Group)
	if err != nil {
		return result{}, err
	}
	set, notice, err := in.setter()
	if err != nil {
		return result{}, err
	}
	e, err := s.Svc.SetGroupPolicy(r.Context(), a, g.UUID, func(p *entry.Policy) error {
		// Checked on the policy being changed, not on g, so that a
		// concurrent enable is seen on the retry.
		if in.Enable == nil && !p.Enabled {
			return idm.Invalid("account policy is not enabled on group %s: enable it first (gatehouse group account-policy enable %s)", g.Name, g.Name)
		}
		set(p)
		return nil
	})
	if err != nil {
		return result{}, err
	}
	v := groupPolicyView(e)
	v.Notice = notice
	return result{status: http.StatusOK, body: v}, nil
}

// setter validates the one requested change and returns what applies it.
func (c policyChange) setter() (func(*entry.Policy), string, error) {
	switch {
	case c.Enable != nil:
		if !*c.Enable {
			return nil, "", idm.Invalid("account policy cannot be disabled once enabled; change its settings instead")
		}
		return func(p *entry.Policy) { p.Enabled = true }, "", nil
	case c.AuthExpiry != nil:
		v := *c.AuthExpiry
		if v <= 0 {
			return nil, "", idm.Invalid("auth_expiry is a number of seconds above 0")
		}
		return func(p *entry.Policy) { p.AuthExpiry = v }, "", nil
	case c.CredentialTypeMinimum != nil:
		v := *c.CredentialTypeMinimum
		if entry.CredRank(v) < 0 {
			return nil, "", idm.Invalid("credential_type_minimum must be one of %s, not %q", strings.Join(entry.CredTypes, ", "), v)
		}
		return func(p *entry.Policy) { p.CredentialTypeMinimum = v }, "", nil
	case c.PasswordMinimumLength != nil:
		v := *c.PasswordMinimumLength
		if v < 1 || v > 256 {
			return nil, "", idm.Invalid("password_minimum_length must be between 1 and 256")
		}
		return func(p *entry.Policy) { p.PasswordMinimumLength = v }, "", nil
	case c.PrivilegeExpiry != nil:
		v := *c.PrivilegeExpiry
		if v <= 0 {
			return nil, "", idm.Invalid("privilege_expiry is a number of seconds above 0")
		}
		notice := ""
		if v > entry.MaxPrivilegeExpiry {
			notice = fmt.Sprintf("privilege_expiry %d is above the maximum of %d seconds; %d was stored", v, entry.MaxPrivilegeExpiry, entry.MaxPrivilegeExpiry)
			v = entry.MaxPrivilegeExpiry
		}
		return func(p *entry.Policy) { p.PrivilegeExpiry = v }, notice, nil
	default:
		if bytes.Equal(bytes.TrimSpace(c.CAList), []byte("null")) {
			return func(p *entry.Policy) { p.WebauthnAttestationCAList = nil }, "the WebAuthn attestation CA list was removed", nil
		}
		l, err := parseCAList(c.CAList)
		if err != nil {
			return nil, "", err
		}
		return func(p *entry.Policy) { p.WebauthnAttestationCAList = l }, "", nil
	}
}

// parseCAList reads fido-mds-tool's JSON, {"cas":{KEY:{"ca":…,"aaguids":{…}}}},
// leniently where tools differ: the CA may be base64 (standard or URL,
// padded or not) DER or PEM, and a device description may be a string or
// an object with an "en" text. Every CA must be a certificate.
func parseCAList(raw json.RawMessage) (*entry.AttestationCAList, error) {
	var in struct {
		CAs map[string]struct {
			CA      string                     `json:"ca"`
			AAGUIDs map[string]json.RawMessage `json:"aaguids"`
		} `json:"cas"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, idm.Invalid("webauthn_attestation_ca_list is not fido-mds-tool JSON ({\"cas\":{…}}): %v", err)
	}
	if len(in.CAs) == 0 {
		return nil, idm.Invalid("webauthn_attestation_ca_list holds no CA; a list must name at least one (send null to remove the list)")
	}
	out := &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{}}
	for key, c := range in.CAs {
		der, err := decodeCA(c.CA)
		if err != nil {
			return nil, idm.Invalid("CA %q of webauthn_attestation_ca_list: %v", key, err)
		}
		ca := entry.AttestationCA{CA: der}
		for g, desc := range c.AAGUIDs {
			id, err := uuid.Parse(g)
			if err != nil {
				return nil, idm.Invalid("CA %q of webauthn_attestation_ca_list: AAGUID %q is not a UUID", key, g)
			}
			if ca.AAGUIDs == nil {
				ca.AAGUIDs = map[string]string{}
			}
			ca.AAGUIDs[id.String()] = describe(desc)
		}
		out.CAs[key] = ca
	}
	return out, nil
}

func decodeCA(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var der []byte
	if b, _ := pem.Decode([]byte(s)); b != nil {
		der = b.Bytes
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(s); err == nil {
				der = d
				break
			}
		}
	}
	if der == nil {
		return nil, fmt.Errorf("the ca is neither base64 DER nor PEM")
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("the ca is not an X.509 certificate: %v", err)
	}
	return der, nil
}

// describe turns a device description into text: a string as is, an
// object by its "en" (fido-mds-tool) or "description" field.
func describe(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o map[string]any
	if json.Unmarshal(raw, &o) == nil {
		for _, k := range []string{"en", "description"} {
			if v, ok := o[k].(string); ok {
				return v
			}
		}
	}
	return ""
}

// ResolvedPolicyView is the effective policy of an account (seconds).
type ResolvedPolicyView struct {
	Account                   string                   `json:"account"`
	UUID                      string                   `json:"uuid"`
	AuthExpiry                int64                    `json:"auth_expiry"`
	CredentialTypeMinimum     string                   `json:"credential_type_minimum"`
	PasswordMinimumLength     int                      `json:"password_minimum_length"`
	PrivilegeExpiry           int64                    `json:"privilege_expiry"`
	WebauthnAttestationCAList *entry.AttestationCAList `json:"webauthn_attestation_ca_list"`
	// Groups are the names of the groups whose enabled policy took part.
	Groups []string `json:"groups"`
}

func (s *Server) accountPolicy(r *http.Request, _ idm.Actor) (result, error) {
	id := r.PathValue("id")
	e, ok := s.Svc.Lookup(id)
	if !ok || e.Class == entry.Group {
		return result{}, idm.NotFound("no person or service account named %q", id)
	}
	res := policy.ForAccount(s.State, e.UUID)
	v := ResolvedPolicyView{Account: e.Name, UUID: e.UUID, AuthExpiry: int64(res.AuthExpiry.Seconds()),
		CredentialTypeMinimum: res.CredentialTypeMinimum, PasswordMinimumLength: res.PasswordMinimumLength,
		PrivilegeExpiry: int64(res.PrivilegeExpiry.Seconds()), WebauthnAttestationCAList: res.AttestationCAs,
		Groups: []string{}}
	for _, g := range res.Groups {
		v.Groups = append(v.Groups, s.State.NameOf(g))
	}
	return result{status: http.StatusOK, body: v}, nil
}
