package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// promAPI is the part of Prometheus' HTTP API answers the test reads.
type promAPI struct {
	Status string          `json:"status"`
	Data   json.RawMessage `json:"data"`
	Error  string          `json:"error"`
}

func promGet(t *testing.T, base, path string, q url.Values) (json.RawMessage, error) {
	t.Helper()
	u := base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r promAPI
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", u, r.Error)
	}
	return r.Data, nil
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func promQuery(t *testing.T, base, query string) []promSample {
	t.Helper()
	data, err := promGet(t, base, "/api/v1/query", url.Values{"query": {query}})
	if err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	var v struct {
		ResultType string       `json:"resultType"`
		Result     []promSample `json:"result"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v.Result
}

// startPrometheus runs a real Prometheus scraping targets over HTTPS with
// the cluster CA, and returns its base URL. It is stopped by its PID at
// cleanup.
func startPrometheus(t *testing.T, ca string, targets []string) string {
	t.Helper()
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("the prometheus binary is not on PATH: run scripts/install-test-deps.sh (Debian package prometheus)")
	}
	dir := t.TempDir()
	q := make([]string, len(targets))
	for i, tg := range targets {
		q[i] = fmt.Sprintf("%q", tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gatehouse
    scheme: https
    metrics_path: /metrics
    tls_config:
      ca_file: %q
    static_configs:
      - targets: [%s]
`, ca, strings.Join(q, ", "))
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "config", cfgFile).CombinedOutput(); err != nil {
			t.Fatalf("promtool check config: %v\n%s", err, out)
		}
	}
	port := freePort(t)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prom, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			lines := strings.Split(string(b), "\n")
			t.Logf("--- last lines of prometheus.log:\n%s", strings.Join(lines[max(0, len(lines)-20):], "\n"))
		}
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func TestARealPrometheusScrapesEveryNodeOverTLS(t *testing.T) {
	c := NewCluster(t, 3)
	c.StartAll()
	leader := c.WaitHealthy()
	var follower *Node
	var targets []string
	for _, nd := range c.Nodes {
		if nd != leader {
			follower = nd
		}
		targets = append(targets, fmt.Sprintf("localhost:%d", nd.APIPort))
	}
	// A login (logins_total) and a write through a follower (forward_total).
	ctx := context.Background()
	idm, _ := c.Admin(follower, "idm_admin")
	if _, err := idm.CreatePerson(ctx, "metered", "Metered", nil); err != nil {
		t.Fatal(err)
	}

	base := startPrometheus(t, c.CA, targets)
	var last string
	Eventually(t, 30*time.Second, "Prometheus sees all three targets up", func() bool {
		data, err := promGet(t, base, "/api/v1/targets", nil)
		if err != nil {
			last = err.Error()
			return false
		}
		var v struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			last = err.Error()
			return false
		}
		up := 0
		last = ""
		for _, tg := range v.ActiveTargets {
			if tg.Health == "up" {
				up++
			}
			last += fmt.Sprintf("%s %s %s; ", tg.ScrapeURL, tg.Health, tg.LastError)
		}
		return up == 3
	})
	t.Logf("targets: %s", last)

	Eventually(t, 10*time.Second, "up == 1 for the three nodes", func() bool {
		res := promQuery(t, base, `up{job="gatehouse"}`)
		if len(res) != 3 {
			return false
		}
		for _, s := range res {
			if s.Value[1] != "1" {
				return false
			}
		}
		return true
	})

	metrics := []string{
		"gatehouse_raft_state", "gatehouse_raft_term", "gatehouse_raft_commit_index",
		"gatehouse_raft_applied_index", "gatehouse_raft_last_contact_seconds",
		"gatehouse_http_requests_total", "gatehouse_logins_total",
		"gatehouse_fsm_apply_seconds_count", "gatehouse_forward_total", "gatehouse_entries",
	}
	for _, m := range metrics {
		var n int
		Eventually(t, 10*time.Second, "series of "+m, func() bool {
			n = len(promQuery(t, base, m))
			return n > 0
		})
		t.Logf("%s: %d series", m, n)
	}
	// The values mean something: the follower forwarded a write, somebody
	// logged in, and every node counts the person it holds.
	if r := promQuery(t, base, fmt.Sprintf(`sum(gatehouse_forward_total{instance="localhost:%d"})`, follower.APIPort)); len(r) != 1 || r[0].Value[1] == "0" {
		t.Errorf("the follower's forward_total: %+v", r)
	}
	if r := promQuery(t, base, `sum(gatehouse_logins_total)`); len(r) != 1 || r[0].Value[1] == "0" {
		t.Errorf("logins_total: %+v", r)
	}
	if r := promQuery(t, base, `gatehouse_entries{class="person"}`); len(r) != 3 {
		t.Errorf("gatehouse_entries{class=person}: want one series per node, got %+v", r)
	} else {
		for _, s := range r {
			if s.Value[1] != "1" {
				t.Errorf("%s counts %v persons, want 1", s.Metric["instance"], s.Value[1])
			}
		}
	}
}
