package integration

import (
	"bufio"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Which node served what: the nodes count every request by route pattern
// (gatehouse_http_requests_total{route,method,code} on /metrics); the
// difference of two readings around a request names the node that served
// it, including through HAProxy.

var requestsRe = regexp.MustCompile(`^gatehouse_http_requests_total\{([^}]*)\} ([0-9.e+]+)$`)
var labelRe = regexp.MustCompile(`(\w+)="([^"]*)"`)

// routeCounts is node id → route → requests served.
type routeCounts map[string]map[string]float64

// readRouteCounts reads every running node's request counters of the
// routes whose pattern contains one of the words.
func readRouteCounts(t testing.TB, c *Cluster, words ...string) routeCounts {
	t.Helper()
	out := routeCounts{}
	hc := c.HTTP()
	for _, nd := range c.Nodes {
		if !nd.Running() {
			continue
		}
		resp, err := hc.Get(nd.URL() + "/metrics")
		if err != nil {
			t.Fatalf("metrics of %s: %v", nd.ID, err)
		}
		m := map[string]float64{}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			g := requestsRe.FindStringSubmatch(sc.Text())
			if g == nil {
				continue
			}
			labels := map[string]string{}
			for _, l := range labelRe.FindAllStringSubmatch(g[1], -1) {
				labels[l[1]] = l[2]
			}
			route := labels["route"]
			for _, w := range words {
				if strings.Contains(route, w) {
					v, _ := strconv.ParseFloat(g[2], 64)
					m[route] += v
					break
				}
			}
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("metrics of %s: %d", nd.ID, resp.StatusCode)
		}
		out[nd.ID] = m
	}
	return out
}

// servedBy names the nodes whose count of a route containing word (or
// equal to it, written "=route") grew between before and after.
func servedBy(before, after routeCounts, word string) []string {
	var nodes []string
	for id, routes := range after {
		for route, v := range routes {
			match := strings.Contains(route, word)
			if exact, ok := strings.CutPrefix(word, "="); ok {
				match = route == exact
			}
			if match && v > before[id][route] {
				nodes = append(nodes, id)
				break
			}
		}
	}
	return nodes
}

// pinTo rewrites a URL on the issuer (the balancer) to the same path on
// node nd: how a test sends one step of a flow to a chosen node.
func pinTo(raw, issuer string, nd *Node) string {
	if strings.HasPrefix(raw, issuer) {
		return nd.URL() + strings.TrimPrefix(raw, issuer)
	}
	return raw
}

// codeNode is the node prefix of an authorization code ("<node>.<rest>"),
// if the provider puts one there.
func codeNode(code string) string {
	n, _, ok := strings.Cut(code, ".")
	if !ok {
		return ""
	}
	return n
}

// queryOf parses a URL's query or fails.
func queryOf(t testing.TB, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u.Query()
}

// waitServed reads the counters until some node's count of a route
// containing word grew past before (a node counts a request after its
// answer has been written, so a reading right after the answer may miss
// it), for at most 2 s, and returns the last reading.
func waitServed(t testing.TB, c *Cluster, before routeCounts, word string) routeCounts {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		after := readRouteCounts(t, c, "oauth2", "/v1/auth")
		if len(servedBy(before, after, word)) > 0 || time.Now().After(deadline) {
			// One more short wait: a forwarded request is counted by the
			// receiver after the owner.
			time.Sleep(50 * time.Millisecond)
			return readRouteCounts(t, c, "oauth2", "/v1/auth")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
