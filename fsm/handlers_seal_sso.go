package fsm

import (
	"bytes"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Fields of a provider that hold sealed secrets (the aad's last part).
const (
	ssoFieldClientSecret = "client_secret"
	ssoFieldBindPassword = "bind_password"
	ssoFieldSPKey        = "sp_key"
)

// ssoSecrets points at every sealed field of a provider.
func ssoSecrets(p *entry.SSOProvider) map[string]*[]byte {
	m := map[string]*[]byte{}
	switch {
	case p.OIDC != nil:
		m[ssoFieldClientSecret] = &p.OIDC.SealedClientSecret
	case p.OAuth2 != nil:
		m[ssoFieldClientSecret] = &p.OAuth2.SealedClientSecret
	case p.LDAP != nil:
		m[ssoFieldBindPassword] = &p.LDAP.SealedBindPassword
	case p.SAML != nil:
		m[ssoFieldSPKey] = &p.SAML.SealedSPKey
	}
	return m
}

// resealSSO swaps one provider secret if it is still the value read.
func (a *applyCtx) resealSSO(it ResealItem) (bool, *ApplyError) {
	p, err := a.ssoProvider(it.ID)
	if err != nil || p == nil {
		return false, err
	}
	dst, ok := ssoSecrets(p)[it.Sub]
	if !ok || len(*dst) == 0 || !sameSum(*dst, it.OldSum) {
		return false, nil
	}
	*dst = it.New
	p.Version = a.index
	if err := putJSON(a.tx.Bucket(bSSOProviders), p.UUID, p); err != nil {
		return false, Errf(CodeInvalid, "%v", err)
	}
	return true, nil
}

func (f *FSM) sealedSSOValues() []SealedValue {
	var out []SealedValue
	for _, p := range f.SSOProviders() {
		for field, v := range ssoSecrets(p) {
			if len(*v) > 0 {
				out = append(out, SealedValue{Kind: SealedSSOSecret, ID: p.UUID, Sub: field, Value: bytes.Clone(*v)})
			}
		}
	}
	return out
}
