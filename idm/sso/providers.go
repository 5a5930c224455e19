package sso

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/samlsp"
	"github.com/google/uuid"
)

// Sealed secret fields (the field part of entry.SSOSecretAAD).
const (
	FieldClientSecret = "client_secret"
	FieldBindPassword = "bind_password"
	FieldSPKey        = "sp_key"
)

// ProviderInput creates or changes a provider; nil (or an unset Override)
// leaves a value as it is. Secrets are write-only: they are sealed here
// and never returned.
type ProviderInput struct {
	Name              *string  `json:"name"`
	Type              string   `json:"type"` // create only
	Enabled           *bool    `json:"enabled"`
	AutoCreate        Override `json:"auto_create"`
	AutoEnable        Override `json:"auto_enable"`
	MFATrusted        *bool    `json:"mfa_trusted"`
	UsernameAttribute *string  `json:"username_attribute"`

	// OIDC and OAuth2.
	ClientID     *string   `json:"client_id"`
	ClientSecret *string   `json:"client_secret"`
	DiscoveryURL *string   `json:"discovery_url"`
	Scopes       *[]string `json:"scopes"`
	AuthURL      *string   `json:"auth_url"`
	TokenURL     *string   `json:"token_url"`
	UserInfoURL  *string   `json:"userinfo_url"`
	JWKSURL      *string   `json:"jwks_url"`
	TrustEmail   *bool     `json:"trust_email"`

	// LDAP.
	URL              *string `json:"url"`
	BindDN           *string `json:"bind_dn"`
	BindPassword     *string `json:"bind_password"`
	BaseDN           *string `json:"base_dn"`
	UserFilter       *string `json:"user_filter"`
	EmailAttribute   *string `json:"email_attribute"`
	DisplayAttribute *string `json:"display_attribute"`
	StartTLS         *bool   `json:"start_tls"`
	CACert           *string `json:"ca_cert"`
	SkipVerify       *bool   `json:"skip_verify"`
	// ConfirmSkipVerify must accompany skip_verify: true.
	ConfirmSkipVerify bool `json:"i_understand_skip_verify"`

	// SAML.
	SPEntityID                 *string `json:"sp_entity_id"`
	IdPEntityID                *string `json:"idp_entity_id"`
	IdPSSOURL                  *string `json:"idp_sso_url"`
	IdPCert                    *string `json:"idp_cert"`
	SPKey                      *string `json:"sp_key"`
	SPCert                     *string `json:"sp_cert"`
	SPKeyBits                  int     `json:"sp_key_bits"`
	RegenerateSPKey            bool    `json:"regenerate_sp_key"`
	AllowUnsignedAssertions    *bool   `json:"allow_unsigned_assertions"`
	RequireEncryptedAssertions *bool   `json:"require_encrypted_assertions"`
}

// Providers lists every provider, by name (idm_admins).
func (s *Service) Providers(actor idm.Actor) ([]*entry.SSOProvider, error) {
	if err := s.mayReadAdmin(actor); err != nil {
		return nil, err
	}
	return s.state().SSOProviders(), nil
}

// EnabledProviders lists the enabled providers, by name (login page,
// account page).
func (s *Service) EnabledProviders() []*entry.SSOProvider {
	return slices.DeleteFunc(s.state().SSOProviders(), func(p *entry.SSOProvider) bool { return !p.Enabled })
}

// Lookup finds a provider by uuid or name.
func (s *Service) Lookup(id string) (*entry.SSOProvider, error) {
	if p, ok := s.state().SSOProvider(id); ok {
		return p, nil
	}
	if p, ok := s.state().SSOProviderByName(id); ok {
		return p, nil
	}
	return nil, idm.NotFound("SSO provider not found: no provider named %q", id)
}

// Provider finds a provider by uuid or name (idm_admins).
func (s *Service) Provider(actor idm.Actor, id string) (*entry.SSOProvider, error) {
	if err := s.mayReadAdmin(actor); err != nil {
		return nil, err
	}
	return s.Lookup(id)
}

// CreateProvider makes a new provider (system_admins). A SAML provider
// without an SP key gets a generated one.
func (s *Service) CreateProvider(ctx context.Context, actor idm.Actor, in ProviderInput) (*entry.SSOProvider, uint64, error) {
	if err := s.maySystem(actor); err != nil {
		return nil, 0, err
	}
	if in.Name == nil {
		return nil, 0, idm.Invalid("name is required")
	}
	now := s.now().UnixMilli()
	p := &entry.SSOProvider{UUID: uuid.Must(uuid.NewV7()).String(), Type: strings.ToLower(in.Type), Enabled: true, Created: now, Updated: now}
	switch p.Type {
	case entry.SSOTypeOIDC:
		p.OIDC = &entry.SSOOIDC{}
	case entry.SSOTypeOAuth2:
		p.OAuth2 = &entry.SSOOAuth2{}
	case entry.SSOTypeLDAP:
		p.LDAP = &entry.SSOLDAP{}
	case entry.SSOTypeSAML:
		p.SAML = &entry.SSOSAML{}
	default:
		return nil, 0, idm.Invalid("type %q is not oidc, oauth2, ldap or saml", in.Type)
	}
	if err := s.apply(p, in); err != nil {
		return nil, 0, err
	}
	if err := s.precheck(p); err != nil {
		return nil, 0, err
	}
	res, err := s.propose(ctx, actor, fsm.TypeSSOProviderPut, fsm.SSOProviderPut{Provider: p}, p.Name)
	if err != nil {
		return nil, 0, err
	}
	cur, err := s.Lookup(p.UUID)
	if err != nil {
		return nil, 0, err
	}
	return cur, res.Index, nil
}

// UpdateProvider changes a provider (system_admins), compare-and-set with
// bounded retries.
func (s *Service) UpdateProvider(ctx context.Context, actor idm.Actor, id string, in ProviderInput) (*entry.SSOProvider, uint64, error) {
	if err := s.maySystem(actor); err != nil {
		return nil, 0, err
	}
	for attempt := 0; ; attempt++ {
		old, err := s.Lookup(id)
		if err != nil {
			return nil, 0, err
		}
		if in.Type != "" && !strings.EqualFold(in.Type, old.Type) {
			return nil, 0, idm.Invalid("the type of a provider cannot change (it is %s); create a new provider", old.Type)
		}
		p := old.Clone()
		if err := s.apply(p, in); err != nil {
			return nil, 0, err
		}
		p.Updated = s.now().UnixMilli()
		if err := s.precheck(p); err != nil {
			return nil, 0, err
		}
		res, err := s.propose(ctx, actor, fsm.TypeSSOProviderPut, fsm.SSOProviderPut{Provider: p, ExpectedVersion: old.Version}, p.Name)
		if err != nil {
			if isConcurrent(err) && attempt < casRetries {
				continue
			}
			return nil, 0, err
		}
		cur, err := s.Lookup(p.UUID)
		if err != nil {
			return nil, 0, err
		}
		return cur, res.Index, nil
	}
}

// DeleteProvider removes a provider (system_admins). While accounts link
// identities at it the delete is refused unless unlink is set; it returns
// how many accounts lost a link.
func (s *Service) DeleteProvider(ctx context.Context, actor idm.Actor, id string, unlink bool) (int, uint64, error) {
	if err := s.maySystem(actor); err != nil {
		return 0, 0, err
	}
	p, err := s.Lookup(id)
	if err != nil {
		return 0, 0, err
	}
	res, err := s.propose(ctx, actor, fsm.TypeSSOProviderDelete, fsm.SSOProviderDelete{UUID: p.UUID, ExpectedVersion: p.Version, Unlink: unlink}, p.Name)
	if err != nil {
		return 0, 0, err
	}
	var out struct {
		Unlinked int `json:"unlinked"`
	}
	if len(res.Value) > 0 {
		_ = json.Unmarshal(res.Value, &out) // a deduplicated retry carries no value
	}
	return out.Unlinked, res.Index, nil
}

// precheck gives the clear, early answer for what Apply would refuse.
func (s *Service) precheck(p *entry.SSOProvider) error {
	if err := p.Validate(); err != nil {
		return idm.Invalid("%v", err)
	}
	if o, ok := s.state().SSOProviderByName(p.Name); ok && o.UUID != p.UUID {
		return idm.Conflict("a provider named %q already exists", o.Name)
	}
	return nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// apply copies the input onto p, sealing secrets and making or checking
// the SAML SP key.
func (s *Service) apply(p *entry.SSOProvider, in ProviderInput) error {
	set(&p.Name, in.Name)
	p.Name = strings.TrimSpace(p.Name)
	set(&p.Enabled, in.Enabled)
	if in.AutoCreate.Set {
		p.AutoCreate = in.AutoCreate.Value
	}
	if in.AutoEnable.Set {
		p.AutoEnable = in.AutoEnable.Value
	}
	set(&p.MFATrusted, in.MFATrusted)
	set(&p.UsernameAttribute, in.UsernameAttribute)
	seal := func(field string, plain *string, dst *[]byte) error {
		if plain == nil {
			return nil
		}
		if *plain == "" {
			*dst = nil
			return nil
		}
		b, err := s.Sealer.Seal([]byte(*plain), entry.SSOSecretAAD(p.UUID, field))
		if err != nil {
			return fmt.Errorf("seal the %s: %w", strings.ReplaceAll(field, "_", " "), err)
		}
		*dst = b
		return nil
	}
	wrongType := func(what string) error {
		return idm.Invalid("%s does not apply to a provider of type %s", what, p.Type)
	}
	oauthSet := in.ClientID != nil || in.ClientSecret != nil || in.Scopes != nil
	ldapSet := in.URL != nil || in.BindDN != nil || in.BindPassword != nil || in.BaseDN != nil || in.UserFilter != nil ||
		in.EmailAttribute != nil || in.DisplayAttribute != nil || in.StartTLS != nil || in.CACert != nil || in.SkipVerify != nil
	samlSet := in.SPEntityID != nil || in.IdPEntityID != nil || in.IdPSSOURL != nil || in.IdPCert != nil || in.SPKey != nil ||
		in.SPCert != nil || in.AllowUnsignedAssertions != nil || in.RequireEncryptedAssertions != nil || in.SPKeyBits != 0 || in.RegenerateSPKey
	switch p.Type {
	case entry.SSOTypeOIDC:
		if ldapSet || samlSet || in.AuthURL != nil || in.TokenURL != nil || in.UserInfoURL != nil || in.JWKSURL != nil || in.TrustEmail != nil {
			return wrongType("an LDAP, SAML or plain OAuth2 setting")
		}
		o := p.OIDC
		set(&o.ClientID, in.ClientID)
		set(&o.DiscoveryURL, in.DiscoveryURL)
		set(&o.Scopes, in.Scopes)
		return seal(FieldClientSecret, in.ClientSecret, &o.SealedClientSecret)
	case entry.SSOTypeOAuth2:
		if ldapSet || samlSet || in.DiscoveryURL != nil {
			return wrongType("an LDAP, SAML or discovery setting")
		}
		o := p.OAuth2
		set(&o.ClientID, in.ClientID)
		set(&o.AuthURL, in.AuthURL)
		set(&o.TokenURL, in.TokenURL)
		set(&o.UserInfoURL, in.UserInfoURL)
		set(&o.JWKSURL, in.JWKSURL)
		set(&o.Scopes, in.Scopes)
		set(&o.TrustEmail, in.TrustEmail)
		return seal(FieldClientSecret, in.ClientSecret, &o.SealedClientSecret)
	case entry.SSOTypeLDAP:
		if oauthSet || samlSet || in.DiscoveryURL != nil || in.AuthURL != nil || in.TokenURL != nil || in.UserInfoURL != nil || in.JWKSURL != nil {
			return wrongType("an OIDC, OAuth2 or SAML setting")
		}
		l := p.LDAP
		set(&l.URL, in.URL)
		set(&l.BindDN, in.BindDN)
		set(&l.BaseDN, in.BaseDN)
		set(&l.UserFilter, in.UserFilter)
		set(&l.EmailAttribute, in.EmailAttribute)
		set(&l.UsernameAttribute, in.UsernameAttribute)
		set(&l.DisplayAttribute, in.DisplayAttribute)
		set(&l.StartTLS, in.StartTLS)
		set(&l.CACert, in.CACert)
		if in.SkipVerify != nil && *in.SkipVerify && !l.SkipVerify && !in.ConfirmSkipVerify {
			return idm.Invalid("skipping certificate verification lets anyone on the network read the bind password and every user's password: " +
				"confirm it with i_understand_skip_verify (gatehouse: --i-understand-skip-verify)")
		}
		set(&l.SkipVerify, in.SkipVerify)
		set(&l.TrustEmail, in.TrustEmail)
		if l.UserFilter == "" {
			attr := l.UsernameAttribute
			if attr == "" {
				attr = "uid"
			}
			l.UserFilter = "(&(objectClass=person)(" + attr + "=%s))"
		}
		return seal(FieldBindPassword, in.BindPassword, &l.SealedBindPassword)
	case entry.SSOTypeSAML:
		if oauthSet || ldapSet || in.DiscoveryURL != nil || in.AuthURL != nil || in.TokenURL != nil || in.UserInfoURL != nil || in.JWKSURL != nil {
			return wrongType("an OIDC, OAuth2 or LDAP setting")
		}
		m := p.SAML
		set(&m.SPEntityID, in.SPEntityID)
		if m.SPEntityID == "" {
			// Our metadata URL names us uniquely and resolves.
			m.SPEntityID = s.MetadataURL(p)
		}
		set(&m.IdPEntityID, in.IdPEntityID)
		set(&m.IdPSSOURL, in.IdPSSOURL)
		set(&m.IdPCert, in.IdPCert)
		set(&m.AllowUnsignedAssertions, in.AllowUnsignedAssertions)
		set(&m.RequireEncryptedAssertions, in.RequireEncryptedAssertions)
		return s.spKey(p, in)
	}
	return idm.Invalid("type %q is not oidc, oauth2, ldap or saml", p.Type)
}

// spKey sets the SAML SP key pair: the admin's (checked to match), or a
// generated one when none is stored yet or a new one is asked for.
func (s *Service) spKey(p *entry.SSOProvider, in ProviderInput) error {
	m := p.SAML
	if in.SPKeyBits != 0 && in.SPKeyBits != 2048 && in.SPKeyBits != 3072 {
		return idm.Invalid("the SP key size must be 3072 (default) or 2048 bits, not %d", in.SPKeyBits)
	}
	switch {
	case in.SPKey != nil && *in.SPKey != "":
		if in.SPCert == nil || *in.SPCert == "" {
			return idm.Invalid("an SP key needs its certificate (sp_cert)")
		}
		if err := samlsp.CheckKeyPair(*in.SPKey, *in.SPCert); err != nil {
			return idm.Invalid("the SP key and certificate: %v", err)
		}
		sealed, err := s.Sealer.Seal([]byte(*in.SPKey), entry.SSOSecretAAD(p.UUID, FieldSPKey))
		if err != nil {
			return fmt.Errorf("seal the SP key: %w", err)
		}
		m.SealedSPKey, m.SPCert = sealed, *in.SPCert
		return nil
	case in.SPCert != nil && *in.SPCert != "":
		// A new certificate for the stored key (e.g. CA-signed).
		if len(m.SealedSPKey) == 0 {
			return idm.Invalid("an SP certificate needs its key (sp_key)")
		}
		key, err := s.Open(p, FieldSPKey)
		if err != nil {
			return err
		}
		if err := samlsp.CheckKeyPair(key, *in.SPCert); err != nil {
			return idm.Invalid("the SP certificate does not match the stored SP key: %v", err)
		}
		m.SPCert = *in.SPCert
		return nil
	case len(m.SealedSPKey) == 0 || m.SPCert == "" || in.RegenerateSPKey:
		keyPEM, certPEM, err := samlsp.GenerateSPKey(m.SPEntityID, in.SPKeyBits, s.now())
		if err != nil {
			return idm.Invalid("generate the SP key: %v", err)
		}
		sealed, err := s.Sealer.Seal([]byte(keyPEM), entry.SSOSecretAAD(p.UUID, FieldSPKey))
		if err != nil {
			return fmt.Errorf("seal the SP key: %w", err)
		}
		m.SealedSPKey, m.SPCert = sealed, certPEM
	}
	return nil
}

// Open returns a provider secret in clear: FieldClientSecret,
// FieldBindPassword or FieldSPKey ("" when none is stored).
func (s *Service) Open(p *entry.SSOProvider, field string) (string, error) {
	var sealed []byte
	switch {
	case field == FieldClientSecret && p.OIDC != nil:
		sealed = p.OIDC.SealedClientSecret
	case field == FieldClientSecret && p.OAuth2 != nil:
		sealed = p.OAuth2.SealedClientSecret
	case field == FieldBindPassword && p.LDAP != nil:
		sealed = p.LDAP.SealedBindPassword
	case field == FieldSPKey && p.SAML != nil:
		sealed = p.SAML.SealedSPKey
	default:
		return "", fmt.Errorf("provider %s (%s) has no secret %q", p.Name, p.Type, field)
	}
	if len(sealed) == 0 {
		return "", nil
	}
	plain, err := s.Sealer.Open(sealed, entry.SSOSecretAAD(p.UUID, field))
	if err != nil {
		return "", fmt.Errorf("open the %s of provider %s (is the cluster encryption key the one it was sealed with?): %w", field, p.Name, err)
	}
	return string(plain), nil
}
