package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	ssosvc "github.com/gatehouse-idm/gatehouse/idm/sso"
	"github.com/gatehouse-idm/gatehouse/protocols/sso"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/ldapup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/samlsp"
)

// wireSSO plugs upstream SSO logins into the node: idm/sso's service
// (providers, settings, JIT accounts), the login routes of protocols/sso,
// the local-auth switch of the auth engine, and the one cross-site POST
// the node accepts (the SAML ACS: the IdP's auto-submitted form; its
// signature and InResponseTo binding protect it).
func (n *node) wireSSO(w *wiring) error {
	svc := ssosvc.New(w.svc, w.sealer, w.issuer)
	w.engine.LocalAllowed = svc.LocalAllowed
	w.srv.SSO = svc // the admin routes (providers, settings, links, overrides)
	h := &sso.Handler{
		Dir:            ssoDirectory{svc: svc, state: w.fsm},
		Accounts:       w.fsm,
		Issue:          w.engine,
		Guard:          w.guard,
		Sealer:         w.sealer,
		Audit:          w.audit,
		Observe:        w.engine.Observe,
		Origin:         w.issuer,
		NodeID:         w.cfg.NodeID,
		SessionCookie:  w.srv.SessionCookie,
		SessionAccount: w.srv.SessionAccount,
		Log:            w.log,
		Now:            time.Now,
	}
	if w.srv.Extra == nil {
		w.srv.Extra = map[string]http.Handler{}
	}
	for p, hd := range h.Routes() {
		w.srv.Extra[p] = hd
	}
	w.cop.AddInsecureBypassPattern(sso.ACSPattern)
	return nil
}

// ssoDirectory adapts idm/sso's service to what the login needs.
type ssoDirectory struct {
	svc   *ssosvc.Service
	state *fsm.FSM
}

func (d ssoDirectory) Provider(id string) (*entry.SSOProvider, bool) { return d.state.SSOProvider(id) }
func (d ssoDirectory) Providers() []*entry.SSOProvider               { return d.svc.EnabledProviders() }
func (d ssoDirectory) OIDCConfig(p *entry.SSOProvider) (oidcup.Config, error) {
	return d.svc.OIDCConfig(p)
}
func (d ssoDirectory) LDAPConfig(p *entry.SSOProvider) (ldapup.Config, error) {
	return d.svc.LDAPConfig(p)
}
func (d ssoDirectory) SAMLConfig(p *entry.SSOProvider) (samlsp.Config, error) {
	return d.svc.SAMLConfig(p)
}
func (d ssoDirectory) SSOAllowed(acct *entry.Entry) bool { return d.svc.SSOAllowed(acct) }

// ssoRefusals give Resolve's refusals a status and a reason code.
var ssoRefusals = []struct {
	err  error
	code string
}{
	{ssosvc.ErrSSOOff, "sso_not_allowed"},
	{ssosvc.ErrNoAccount, "no_account"},
	{ssosvc.ErrProviderOff, "provider_disabled"},
	{ssosvc.ErrAmbiguousEmail, "ambiguous_email"},
	{ssosvc.ErrAdminEmail, "admin_email"},
	{ssosvc.ErrLinkedElsewhere, "linked_elsewhere"},
}

func (d ssoDirectory) Resolve(ctx context.Context, p *entry.SSOProvider, id upstream.Identity, linkTo string) (sso.Resolution, error) {
	out, err := d.svc.Resolve(ctx, p, id, linkTo)
	if err != nil {
		for _, r := range ssoRefusals {
			if errors.Is(err, r.err) {
				return sso.Resolution{}, &idm.Error{Status: http.StatusForbidden, Code: r.code, Msg: err.Error()}
			}
		}
		return sso.Resolution{}, err
	}
	return sso.Resolution{Account: out.Account, Created: out.Created, Pending: out.Pending, Note: strings.Join(out.Notes, "; ")}, nil
}
