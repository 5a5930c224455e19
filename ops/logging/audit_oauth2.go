package logging

import "log/slog"

// OAuth2Grant records one OAuth2 grant decision of the provider: a code
// issued at the authorization endpoint (grant "authorize"), a token
// request (authorization_code, refresh_token, client_credentials,
// device_code), a device approval or denial (grant "device_decision"), or a
// revocation. client is the client id, account the person or service
// account (name or uuid; empty when none was reached), result one of
// success, denied, error (and for refresh tokens "reused", for codes
// "replayed"), reason the protocol error and its description, scopes the
// granted scopes. Nothing secret goes in: no code, token, verifier or
// client secret.
func (a *Audit) OAuth2Grant(grant, client, account, result, reason, scopes, node, remote string) {
	if a == nil {
		return
	}
	a.log.Info("oauth2_grant",
		slog.String("event", "oauth2_grant"),
		slog.String("grant", grant),
		slog.String("client", client),
		slog.String("account", account),
		slog.String("result", result),
		slog.String("reason", reason),
		slog.String("scopes", scopes),
		slog.String("node", node),
		slog.String("remote", remote),
	)
}
