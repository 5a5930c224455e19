package cluster

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus collectors. Gauges read Raft on each
// scrape (GaugeFunc) rather than being pushed, so they are never stale.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector
	forwards   *prometheus.CounterVec
	readWait   prometheus.Histogram
}

func newMetrics(n *Node, reg prometheus.Registerer) *metrics {
	m := &metrics{reg: reg}
	gauge := func(name, help string, f func() float64) {
		m.collectors = append(m.collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown} {
		s := s
		m.collectors = append(m.collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_raft_state", Help: "1 for the Raft state this node is in.",
			ConstLabels: prometheus.Labels{"state": s.String()},
		}, func() float64 { return b2f(n.raft.State() == s) }))
	}
	gauge("gatehouse_raft_term", "Current Raft term.", func() float64 { return float64(n.raft.CurrentTerm()) })
	gauge("gatehouse_raft_commit_index", "Raft commit index.", func() float64 { return float64(n.raft.CommitIndex()) })
	gauge("gatehouse_raft_applied_index", "Highest index applied to the store.", func() float64 { return float64(n.sm.AppliedIndex()) })
	gauge("gatehouse_raft_last_contact_seconds", "Seconds since the last contact with the leader (0 on the leader).", func() float64 {
		lc := n.raft.LastContact()
		if n.IsLeader() || lc.IsZero() {
			return 0
		}
		return time.Since(lc).Seconds()
	})
	gauge("gatehouse_raft_leader", "1 if this node is the Raft leader.", func() float64 { return b2f(n.IsLeader()) })
	for _, h := range []string{"alive", "suspect", "failed", "left"} {
		h := h
		m.collectors = append(m.collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_gossip_members", Help: "Gossip members by health, as seen by this node.",
			ConstLabels: prometheus.Labels{"status": h},
		}, func() float64 {
			if n.gossip == nil {
				return 0
			}
			return float64(n.gossip.healthCounts()[h])
		}))
	}
	m.forwards = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_forward_total", Help: "Writes forwarded to the leader, by outcome (ok, retry, no_leader, error).",
	}, []string{"outcome"})
	m.readWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "gatehouse_read_index_wait_seconds", Help: "Time a consistent read waited for ReadIndex and local apply.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	m.collectors = append(m.collectors, m.forwards, m.readWait)
	if reg != nil {
		for _, c := range m.collectors {
			if err := reg.Register(c); err != nil {
				n.log.Warn("metric not registered", "err", err)
			}
		}
	}
	return m
}

func (m *metrics) forward(outcome string) {
	if m != nil {
		m.forwards.WithLabelValues(outcome).Inc()
	}
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
