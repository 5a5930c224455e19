package main

import (
	"time"

	idmoauth2 "github.com/gatehouse-idm/gatehouse/idm/oauth2"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/ops/metrics"
	"github.com/gatehouse-idm/gatehouse/protocols/oauth2"
)

// wireOAuth2 plugs the OAuth2/OIDC provider into the node: its routes go
// into the API's mux (so forwarded code exchanges reach them through
// /rpc/api/ too), and the token-style endpoints, which authenticate the
// client rather than a cookie, accept cross-origin POSTs from browser apps.
func (n *node) wireOAuth2(w *wiring) error {
	hasher := w.svc.Hasher
	if hasher == nil {
		hasher = password.NewHasher(2, 0)
	}
	p := &oauth2.Provider{Issuer: w.issuer, NodeID: w.cfg.NodeID, State: w.fsm, Signer: w.signer, Sealer: w.sealer,
		Secrets: &idmoauth2.Secrets{Sealer: w.sealer, Hasher: hasher, Now: time.Now},
		Writer:  &idmoauth2.Writer{Prop: w.cluster, State: w.fsm, Now: time.Now},
		Peers:   w.cluster, Session: w.srv.CheckSession, LoginPage: w.pages.LoginPage, Log: w.log, Now: time.Now,
		Audit: w.audit, Metrics: metrics.NewOAuth2(w.reg), Consistent: w.cluster.ConsistentIndex}
	if w.srv.SPNEGODeps.SPNEGO != nil {
		p.Negotiate = w.srv.NegotiateSession
	}
	for pattern, h := range p.Routes() {
		w.srv.Extra[pattern] = h
	}
	for _, pattern := range oauth2.CrossOriginBypass {
		w.cop.AddInsecureBypassPattern(pattern)
	}
	return nil
}
