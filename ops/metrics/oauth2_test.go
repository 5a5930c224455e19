package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestOAuth2GrantsCountedByTypeAndResult(t *testing.T) {
	reg := NewRegistry()
	m := NewOAuth2(reg)
	m.Grant("client_credentials", "success")
	m.Grant("client_credentials", "success")
	m.Grant("refresh_token", "reused")
	if got := testutil.ToFloat64(m.grants.WithLabelValues("client_credentials", "success")); got != 2 {
		t.Errorf("client_credentials/success = %v", got)
	}
	if got := testutil.ToFloat64(m.grants.WithLabelValues("refresh_token", "reused")); got != 1 {
		t.Errorf("refresh_token/reused = %v", got)
	}
	var none *OAuth2
	none.Grant("x", "y") // no panic
}
