package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i))
	}
	if got := percentile(v, 0.5); got != 50 {
		t.Fatalf("p50 of 1..100 = %d, want 50", got)
	}
	if got := percentile(v, 0.99); got != 99 {
		t.Fatalf("p99 of 1..100 = %d, want 99", got)
	}
	if got := percentile(nil, 0.99); got != 0 {
		t.Fatalf("p99 of nothing = %d, want 0", got)
	}
}

func TestRunLoadStartsExactlyTotalOpsWithUniqueSeqs(t *testing.T) {
	var mu sync.Mutex
	seen := map[int64]bool{}
	res := runLoad(context.Background(), 8, 0, 1000, func(_ context.Context, _ int, seq int64) error {
		mu.Lock()
		defer mu.Unlock()
		if seen[seq] {
			t.Errorf("seq %d handed out twice", seq)
		}
		seen[seq] = true
		if seq%10 == 0 {
			return errors.New("every tenth fails")
		}
		return nil
	})
	if len(seen) != 1000 || res.OK != 900 || res.Errors != 100 || res.FirstErr == "" {
		t.Fatalf("got %d seqs, %+v; want 1000 seqs, 900 ok, 100 errors", len(seen), res)
	}
}

func TestRunLoadStopsAfterDuration(t *testing.T) {
	res := runLoad(context.Background(), 4, 200*time.Millisecond, 0, func(context.Context, int, int64) error {
		time.Sleep(5 * time.Millisecond)
		return nil
	})
	if res.Elapsed < 200*time.Millisecond || res.Elapsed > 2*time.Second || res.OK == 0 {
		t.Fatalf("elapsed %v with %d ops; want about 200 ms and some ops", res.Elapsed, res.OK)
	}
	if res.P50 < 5*time.Millisecond {
		t.Fatalf("p50 %v below the op's own 5 ms", res.P50)
	}
}

// A TLS server on 127.0.0.1 that speaks just enough of the API: the three
// login steps (with the session header) and person create.
func TestClientLogsInAndCreatesOverTLS(t *testing.T) {
	var mu sync.Mutex
	created := map[string]bool{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/auth":
			var in struct {
				Step map[string]json.RawMessage `json:"step"`
			}
			_ = json.Unmarshal(body, &in)
			sid := r.Header.Get("X-Gatehouse-Auth-Session")
			switch {
			case in.Step["init"] != nil && sid == "":
				w.Header().Set("X-Gatehouse-Auth-Session", "s1")
				io.WriteString(w, `{"sessionid":"s1","state":{"choose":["password"]}}`)
			case in.Step["begin"] != nil && sid == "s1":
				io.WriteString(w, `{"sessionid":"s1","state":{"continue":["password"]}}`)
			case string(in.Step["cred"]) == `{"password":"pw"}` && sid == "s1":
				io.WriteString(w, `{"sessionid":"s1","state":{"success":"tok"}}`)
			case in.Step["begin"] != nil && sid == "r1":
				io.WriteString(w, `{"sessionid":"r1","state":{"continue":["password"]}}`)
			case string(in.Step["cred"]) == `{"password":"pw"}` && sid == "r1":
				io.WriteString(w, `{"sessionid":"r1","state":{"success":"rwtok"}}`)
			default:
				io.WriteString(w, `{"sessionid":"s1","state":{"denied":"invalid name or password"}}`)
			}
		case "/v1/reauth":
			// Reauth needs a session (read-only is enough) and continues on /v1/auth.
			if a := r.Header.Get("Authorization"); a != "Bearer tok" && a != "Bearer rwtok" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("X-Gatehouse-Auth-Session", "r1")
			io.WriteString(w, `{"sessionid":"r1","state":{"choose":["password"]}}`)
		case "/v1/person":
			switch r.Header.Get("Authorization") {
			case "Bearer rwtok":
			case "Bearer tok":
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"error":"this session is read-only","code":"reauth_required"}`)
				return
			default:
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			var in struct{ Name string }
			_ = json.Unmarshal(body, &in)
			mu.Lock()
			defer mu.Unlock()
			if created[in.Name] {
				w.WriteHeader(http.StatusConflict)
				io.WriteString(w, `{"error":"name taken","code":"conflict"}`)
				return
			}
			created[in.Name] = true
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := newClient(ca, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	ctx := context.Background()
	if _, err := cl.login(ctx, srv.URL, "alice", "wrong"); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	tok, err := cl.login(ctx, srv.URL, "alice", "pw")
	if err != nil || tok != "tok" {
		t.Fatalf("login = %q, %v; want tok", tok, err)
	}
	admin := &client{hc: cl.hc, token: tok}
	var he *httpError
	if err := admin.createPerson(ctx, srv.URL, "bob"); !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("create with a read-only session = %v; want HTTP 403", err)
	}
	if _, err := admin.reauth(ctx, srv.URL, "wrong"); err == nil {
		t.Fatal("reauth with a wrong password succeeded")
	}
	rw, err := admin.reauth(ctx, srv.URL, "pw")
	if err != nil || rw != "rwtok" {
		t.Fatalf("reauth = %q, %v; want rwtok", rw, err)
	}
	admin.token = rw
	if err := admin.createPerson(ctx, srv.URL, "bob"); err != nil {
		t.Fatalf("create bob: %v", err)
	}
	if err := admin.createPerson(ctx, srv.URL, "bob"); !errors.As(err, &he) || he.Status != http.StatusConflict {
		t.Fatalf("second create of bob = %v; want HTTP 409", err)
	}
}

func TestParseFlagsQuickAndOnly(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-only", "writes,restart"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 2*time.Second || o.persons != 2000 || len(o.only) != 2 {
		t.Fatalf("quick options = %+v", o)
	}
	if o, _ := parseFlags([]string{"-quick", "-persons", "50"}, io.Discard); o.persons != 50 {
		t.Fatalf("-persons after -quick = %d, want 50", o.persons)
	}
	if o.burst != 500 || o.badlist != 20000 {
		t.Fatalf("quick burst %d, badlist lines %d; want 500, 20000", o.burst, o.badlist)
	}
	if o, err := parseFlags(nil, io.Discard); err != nil || len(o.only) != len(allParts) || o.burst != 1000 || o.badlist != 1000000 {
		t.Fatalf("defaults = %+v, %v", o, err)
	}
	if o, err := parseFlags([]string{"-only", "logins-haproxy,passkey-logins,login-memory,badlist"}, io.Discard); err != nil || len(o.only) != 4 {
		t.Fatalf("-only with the authentication parts = %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"-only", "writes,bogus"}, io.Discard); err == nil {
		t.Fatal("-only with an unknown part was accepted")
	}
}

// A create that first meets a 503 (an election) is retried, and a 409 on the
// retry counts as done: the first attempt had committed after all.
func TestSeedRetriesAfter503AndAccepts409OnRetry(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Name string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		calls[in.Name]++
		n := calls[in.Name]
		mu.Unlock()
		switch {
		case in.Name == "s-1" && n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case in.Name == "s-1":
			w.WriteHeader(http.StatusConflict)
		case in.Name == "s-2":
			w.WriteHeader(http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := newClient(ca, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	b := &bench{c: &cluster{nodes: []*node{{ID: "n1", API: srv.URL}}}, admin: cl}
	res, retried := b.seed(context.Background(), "s", 4, 2)
	if res.OK != 3 || res.Errors != 1 || retried != 1 {
		t.Fatalf("seed = %+v, retried %d; want 3 ok, 1 error (the 400), 1 retried", res, retried)
	}
	if calls["s-2"] != 1 {
		t.Fatalf("a 400 was retried %d times; want no retry", calls["s-2"]-1)
	}
}
