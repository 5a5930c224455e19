package oauth2

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkClientCredentials measures client-credentials grants through the
// real handler chain (api mux, op parsing, secret check, ES256 signing) over
// TLS with keep-alive connections, in parallel. Report: grants/s = 1e9 /
// ns/op; per core, divide by GOMAXPROCS.
func BenchmarkClientCredentials(b *testing.B) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	n := newTestNode(b)
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode()
	client := n.srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, n.srv.URL+PathToken, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("app", secret)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "grants/s")
}
