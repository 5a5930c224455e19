package metrics

import "github.com/prometheus/client_golang/prometheus"

// OAuth2 counts the OAuth2 provider's grants.
type OAuth2 struct {
	grants *prometheus.CounterVec
}

// NewOAuth2 registers gatehouse_oauth2_grants_total{grant,result}.
func NewOAuth2(reg prometheus.Registerer) *OAuth2 {
	m := &OAuth2{grants: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_oauth2_grants_total",
		Help: "OAuth2 grants by type (authorize, authorization_code, refresh_token, client_credentials, device_code, device_authorization, device_decision, revocation) and result (success, denied, pending, error, reused, replayed).",
	}, []string{"grant", "result"})}
	reg.MustRegister(m.grants)
	return m
}

// Grant counts one grant outcome. Both labels come from fixed sets chosen
// by the provider, never from the request, so the series count is bounded.
// A nil *OAuth2 counts nothing.
func (m *OAuth2) Grant(grant, result string) {
	if m == nil {
		return
	}
	m.grants.WithLabelValues(grant, result).Inc()
}
