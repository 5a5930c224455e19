package oauth2

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Grant outcomes go to the audit log (ops/logging.Audit.OAuth2Grant) and
// to gatehouse_oauth2_grants_total (ops/metrics.OAuth2). Grant names and
// results are fixed strings; no code, token, verifier or secret is ever
// part of an event.

// Grant names of the events.
const (
	grantAuthorize      = "authorize"
	grantCode           = "authorization_code"
	grantRefresh        = "refresh_token"
	grantClientCreds    = "client_credentials"
	grantDeviceCode     = "device_code"
	grantDeviceAuth     = "device_authorization"
	grantDeviceDecision = "device_decision"
	grantRevocation     = "revocation"
)

// Results of the events.
const (
	resultSuccess  = "success"
	resultDenied   = "denied"
	resultPending  = "pending"
	resultError    = "error"
	resultReused   = "reused"
	resultReplayed = "replayed"
)

type remoteKey struct{}

// withRemote puts the client address into the request context, so that
// the op.Server methods (which see no *http.Request) can log it.
func withRemote(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), remoteKey{}, r.RemoteAddr)))
	})
}

func remoteOf(ctx context.Context) string {
	s, _ := ctx.Value(remoteKey{}).(string)
	return s
}

// grantEvent is filled while a grant is decided and recorded once.
type grantEvent struct {
	grant, client, account, result, reason, remote string
	scopes                                         []string
}

// record writes ev; a result left empty is derived from err.
func (p *Provider) record(ev *grantEvent, err error) {
	if ev.result == "" {
		ev.result, ev.reason = outcome(err)
	}
	p.Metrics.Grant(ev.grant, ev.result)
	if ev.result == resultPending {
		return // a device polling every 5 s is not an audit event
	}
	p.Audit.OAuth2Grant(ev.grant, ev.client, ev.account, ev.result, ev.reason, strings.Join(ev.scopes, " "), p.NodeID, ev.remote)
}

// outcome maps a grant's error to a result and a reason.
func outcome(err error) (string, string) {
	if err == nil {
		return resultSuccess, ""
	}
	var oe *oidc.Error
	if !errors.As(err, &oe) { // through op.StatusError's Unwrap
		return resultError, "server_error"
	}
	reason := string(oe.ErrorType)
	if oe.Description != "" {
		reason += ": " + oe.Description
	}
	switch oe.ErrorType {
	case oidc.AuthorizationPending, oidc.SlowDown:
		return resultPending, reason
	case oidc.ServerError:
		return resultError, reason
	}
	return resultDenied, reason
}
