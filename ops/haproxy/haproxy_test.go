package haproxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestConfigIsPassthroughRoundRobinWithHealthChecks(t *testing.T) {
	cfg := Config("127.0.0.1:9100", "/tmp/x.sock", []Backend{{"n1", "127.0.0.1:9001"}, {"n2", "127.0.0.1:9002"}})
	for _, want := range []string{"mode tcp", "balance roundrobin", "option httpchk GET /status", "bind 127.0.0.1:9100",
		"stats socket /tmp/x.sock", "server n2 127.0.0.1:9002 check check-ssl verify none inter 1s fall 2 rise 2"} {
		if !strings.Contains(cfg, want) {
			t.Fatalf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "stick") || strings.Contains(cfg, "cookie") {
		t.Fatalf("config has affinity:\n%s", cfg)
	}
	st, err := ParseStats([]byte("# pxname,svname,status,check_status,\ngatehouse,FRONTEND,OPEN,,\nnodes,n1,UP,L7OK,\nnodes,n2,UP 1/2,INI,\nnodes,BACKEND,UP,,\n"))
	if err != nil || len(st) != 2 || st["n1"] != "UP L7OK" || st["n2"] != "UP 1/2 INI" {
		t.Fatalf("stats = %v, %v", st, err)
	}
}

// A real HAProxy in front of two TLS servers: both come up, and new
// connections alternate between them.
func TestARealHAProxyBalancesTLSConnections(t *testing.T) {
	var backends []Backend
	for _, name := range []string{"a", "b"} {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		backends = append(backends, Backend{Name: name, Addr: strings.TrimPrefix(srv.URL, "https://")})
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, err := Start(addr, backends)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if err := p.WaitAllUp(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	seen := map[string]int{}
	for range 6 {
		resp, err := cl.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[string(b)]++
	}
	if seen["a"] != 3 || seen["b"] != 3 {
		t.Fatalf("six connections went %v, want 3 and 3 (round robin)\n%s", seen, p.Log())
	}
}
