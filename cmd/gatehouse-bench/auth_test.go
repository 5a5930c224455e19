package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
	"github.com/gatehouse-idm/gatehouse/ops/config"
)

// tlsClient is a bench client trusting srv's certificate.
func tlsClient(t *testing.T, srv *httptest.Server) *client {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := newClient(ca, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.close)
	return cl
}

// A fake server asks for a passkey; the client answers with the software
// authenticator's assertion for the credential the options allow.
func TestPasskeyLoginAnswersTheChallenge(t *testing.T) {
	b64 := base64.RawURLEncoding
	auth := fidotest.New("https://localhost:1")
	reg, err := auth.Register(json.RawMessage(`{"publicKey":{"rp":{"id":"localhost"},"user":{"id":"`+b64.EncodeToString([]byte("user-1"))+
		`"},"challenge":"`+b64.EncodeToString([]byte("c1"))+`","pubKeyCredParams":[{"alg":-7}],"authenticatorSelection":{"residentKey":"required"}}}`), true)
	if err != nil {
		t.Fatal(err)
	}
	var cred struct{ ID string }
	if err := json.Unmarshal(reg, &cred); err != nil || cred.ID == "" {
		t.Fatalf("registration %s: %v", reg, err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Step map[string]json.RawMessage `json:"step"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		sid := r.Header.Get("X-Gatehouse-Auth-Session")
		switch {
		case in.Step["init"] != nil:
			io.WriteString(w, `{"sessionid":"p1","state":{"choose":["passkey"]}}`)
		case string(in.Step["begin"]) == `"passkey"` && sid == "p1":
			io.WriteString(w, `{"sessionid":"p1","state":{"continue":[{"passkey":{"publicKey":{"challenge":"`+
				b64.EncodeToString([]byte("c2"))+`","rpId":"localhost","allowCredentials":[{"type":"public-key","id":"`+cred.ID+`"}]}}}]}}`)
		case in.Step["cred"] != nil && sid == "p1":
			var c struct {
				Passkey struct {
					ID       string
					Response struct{ Signature string }
				}
			}
			if json.Unmarshal(in.Step["cred"], &c) == nil && c.Passkey.ID == cred.ID && c.Passkey.Response.Signature != "" {
				io.WriteString(w, `{"sessionid":"p1","state":{"success":"pktok"}}`)
				return
			}
			io.WriteString(w, `{"sessionid":"p1","state":{"denied":"invalid name or credentials"}}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	cl := tlsClient(t, srv)
	tok, err := cl.passkeyLogin(context.Background(), srv.URL, "pk", func(o json.RawMessage) (json.RawMessage, error) { return auth.Login(o, true) })
	if err != nil || tok != "pktok" {
		t.Fatalf("passkey login = %q, %v; want pktok", tok, err)
	}
}

func TestBadlistIsDeterministicAndMixed(t *testing.T) {
	var a, b, c bytes.Buffer
	if err := writeBadlist(&a, 5000, 1); err != nil {
		t.Fatal(err)
	}
	_ = writeBadlist(&b, 5000, 1)
	_ = writeBadlist(&c, 5000, 2)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same seed gave two different files")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("two seeds gave the same file")
	}
	lines := strings.Split(strings.TrimSuffix(a.String(), "\n"), "\n")
	if len(lines) != 5000 {
		t.Fatalf("%d lines, want 5000", len(lines))
	}
	short, long, seen := 0, 0, map[string]bool{}
	dups := 0
	for _, l := range lines {
		if len(l) < 12 {
			short++
		}
		if len(l) >= 16 {
			long++
		}
		if seen[l] {
			dups++
		}
		seen[l] = true
	}
	if short < 1000 || long < 1000 || dups < 100 {
		t.Fatalf("mix: %d short, %d long, %d duplicates; want weak, strong-looking and repeated lines", short, long, dups)
	}
}

func TestParseUpload(t *testing.T) {
	s, err := parseUpload("read 1000000 lines from 1 files; dropped 550000 (comments, duplicates, or already refused by zxcvbn or the length rule); added 449000 new passwords (1000 were already listed)\n",
		"filtering ...\nfiltered 1000000 lines in 7m12.5s on 2 cores\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.read != 1000000 || s.kept != 450000 || s.added != 449000 || s.filter.Seconds() != 432.5 {
		t.Fatalf("summary = %+v", s)
	}
	if _, err := parseUpload("nothing", ""); err == nil {
		t.Fatal("an output without summary was accepted")
	}
}

// The [webauthn] table appended to a config is what the server reads.
func TestAddWebAuthnOrigins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.toml")
	if err := os.WriteFile(path, []byte("node_id = \"n1\"\n\n[api]\nlisten = \"127.0.0.1:1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := addWebAuthnOrigins(path, []string{"https://localhost:9100"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		raw, _ := os.ReadFile(path)
		t.Fatalf("%v\n%s", err, raw)
	}
	if len(cfg.WebAuthn.Origins) != 1 || cfg.WebAuthn.Origins[0] != "https://localhost:9100" || cfg.API.Listen != "127.0.0.1:1" {
		t.Fatalf("decoded %+v / %+v", cfg.WebAuthn, cfg.API)
	}
}
