package logging

import "log/slog"

// SSOLogin records the outcome of a login through an upstream provider
// (OIDC, OAuth2, SAML, LDAP): which provider, which account (empty when
// none was reached), the mechanism it would give, the result (success,
// failure, locked) and why in words (a reason code, then details).
// Nothing secret goes in: no code, assertion, password or token.
func (a *Audit) SSOLogin(provider, providerType, account, mechanism, result, reason, node, remote string) {
	a.log.Info("sso_login",
		slog.String("event", "sso_login"),
		slog.String("provider", provider),
		slog.String("provider_type", providerType),
		slog.String("account", account),
		slog.String("mechanism", mechanism),
		slog.String("result", result),
		slog.String("reason", reason),
		slog.String("node", node),
		slog.String("remote", remote),
	)
}
