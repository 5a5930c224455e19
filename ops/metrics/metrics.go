package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	gometrics "github.com/hashicorp/go-metrics/compat"
	gmprom "github.com/hashicorp/go-metrics/compat/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors. A private registry (not the global default) keeps tests that
// start several nodes in one process from colliding.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

var bridgeMu sync.Mutex

// BridgeGoMetrics installs a go-metrics sink that forwards raft's, raft-boltdb's
// and memberlist's internal metrics (raft_*, memberlist_*) to reg.
//
// go-metrics has one process-global sink, so the last call wins; a process
// running several nodes (tests) sees all of their raft metrics in the last
// registry bridged. The compat package is used because that is what raft,
// raft-boltdb/v2 and memberlist call: it forwards to armon/go-metrics unless
// built with the hashicorpmetrics tag, and this code follows the same choice.
func BridgeGoMetrics(reg prometheus.Registerer) error {
	bridgeMu.Lock()
	defer bridgeMu.Unlock()
	sink, err := gmprom.NewPrometheusSinkFrom(gmprom.PrometheusOpts{
		Expiration: 5 * time.Minute, // drop series not updated recently (e.g. a removed peer)
		Registerer: reg,
	})
	if err != nil {
		return fmt.Errorf("bridge go-metrics to prometheus: %w", err)
	}
	conf := gometrics.DefaultConfig("")
	conf.EnableHostname = false
	conf.EnableHostnameLabel = false
	conf.EnableServiceLabel = false
	// Runtime metrics already come from the Go collector; avoid duplicates.
	conf.EnableRuntimeMetrics = false
	if _, err := gometrics.NewGlobal(conf, sink); err != nil {
		return fmt.Errorf("bridge go-metrics to prometheus: %w", err)
	}
	return nil
}

// HTTP counts requests and measures their latency per route.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHTTP registers gatehouse_http_requests_total{route,method,code} and
// gatehouse_http_request_duration_seconds{route}.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	m := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern.",
			// Logins with argon2id take ~20 ms and queue under load, so the
			// buckets reach into seconds.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Wrap measures h under the label route. Route must be a fixed pattern (not
// the request path) to keep label cardinality bounded.
func (m *HTTP) Wrap(route string, h http.Handler) http.Handler {
	obs := m.duration.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			obs.Observe(time.Since(start).Seconds())
			m.requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(rec.code)).Inc()
		}()
		h.ServeHTTP(rec, r)
	})
}

// methodLabel folds unknown methods into one label so clients cannot grow the
// series count at will.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Auth counts login outcomes.
type Auth struct {
	logins *prometheus.CounterVec
}

// NewAuth registers gatehouse_logins_total{mechanism,result}.
func NewAuth(reg prometheus.Registerer) *Auth {
	a := &Auth{logins: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_logins_total",
		Help: "Login attempts by mechanism (password, totp, passkey, spnego, upstream, ...) and result (success, denied, error).",
	}, []string{"mechanism", "result"})}
	reg.MustRegister(a.logins)
	return a
}

// Login counts one login attempt.
func (a *Auth) Login(mechanism, result string) { a.logins.WithLabelValues(mechanism, result).Inc() }

// FSM measures how long the state machine takes to apply each command type.
type FSM struct {
	apply *prometheus.HistogramVec
}

// NewFSM registers gatehouse_fsm_apply_seconds{command}.
func NewFSM(reg prometheus.Registerer) *FSM {
	f := &FSM{apply: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_fsm_apply_seconds",
		Help:    "Time to apply one Raft command to the local store, by command type.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1},
	}, []string{"command"})}
	reg.MustRegister(f.apply)
	return f
}

// Observe records one applied command.
func (f *FSM) Observe(command string, d time.Duration) {
	f.apply.WithLabelValues(command).Observe(d.Seconds())
}

// RegisterEntries registers gatehouse_entries{class}, computed by count at
// scrape time so the store keeps no counters of its own.
func RegisterEntries(reg prometheus.Registerer, count func() map[string]int) error {
	if err := reg.Register(&entriesCollector{count: count}); err != nil {
		return fmt.Errorf("register gatehouse_entries: %w", err)
	}
	return nil
}

var entriesDesc = prometheus.NewDesc("gatehouse_entries", "Identity entries in this node's store, by class.", []string{"class"}, nil)

type entriesCollector struct{ count func() map[string]int }

func (e *entriesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- entriesDesc }

func (e *entriesCollector) Collect(ch chan<- prometheus.Metric) {
	for class, n := range e.count() {
		ch <- prometheus.MustNewConstMetric(entriesDesc, prometheus.GaugeValue, float64(n), class)
	}
}
