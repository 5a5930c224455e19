package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gometrics "github.com/hashicorp/go-metrics/compat"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHTTPWrapCountsRequestsByRouteMethodCode(t *testing.T) {
	reg := NewRegistry()
	m := NewHTTP(reg)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/person/{id}", m.Wrap("/v1/person/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.Error(w, "no such person", http.StatusNotFound)
			return
		}
		io.WriteString(w, "ok")
	})))
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	for _, id := range []string{"alice", "bob", "missing"} {
		resp, err := srv.Client().Get(srv.URL + "/v1/person/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("/v1/person/{id}", "GET", "200")); got != 2 {
		t.Errorf("200 count = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("/v1/person/{id}", "GET", "404")); got != 1 {
		t.Errorf("404 count = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("duration series = %d, want 1", n)
	}
}

func TestAuthFSMAndEntriesExposeTheirSeries(t *testing.T) {
	reg := NewRegistry()
	NewAuth(reg).Login("password", "success")
	NewFSM(reg).Observe("person_create", 3*time.Millisecond)
	if err := RegisterEntries(reg, func() map[string]int { return map[string]int{"person": 7, "group": 2} }); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP gatehouse_entries Identity entries in this node's store, by class.
# TYPE gatehouse_entries gauge
gatehouse_entries{class="group"} 2
gatehouse_entries{class="person"} 7
# HELP gatehouse_logins_total Login attempts by mechanism (password, totp, passkey, spnego, upstream, ...) and result (success, denied, error).
# TYPE gatehouse_logins_total counter
gatehouse_logins_total{mechanism="password",result="success"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_entries", "gatehouse_logins_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "gatehouse_fsm_apply_seconds"); err != nil || n != 1 {
		t.Errorf("fsm apply series = %d, %v", n, err)
	}
}

func TestBridgeForwardsRaftMetrics(t *testing.T) {
	reg := NewRegistry()
	if err := BridgeGoMetrics(reg); err != nil {
		t.Fatal(err)
	}
	// The same call raft makes through the compat package.
	gometrics.IncrCounter([]string{"raft", "apply"}, 3)
	gometrics.SetGauge([]string{"raft", "commitNumLogs"}, 5)
	if n, err := testutil.GatherAndCount(reg, "raft_apply", "raft_commitNumLogs"); err != nil || n != 2 {
		t.Fatalf("bridged series = %d, %v; want raft_apply and raft_commitNumLogs", n, err)
	}
}
