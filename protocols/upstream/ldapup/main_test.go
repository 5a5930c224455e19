package ldapup

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/ops/slapd"
)

// One slapd for the whole package run, started by the first test that
// needs it (so that fuzzing, which runs no test, starts none) and stopped
// by TestMain.
var (
	dirOnce sync.Once
	dir     *slapd.Server
	dirErr  error
	dirTmp  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	dir.Stop()
	if dirTmp != "" {
		os.RemoveAll(dirTmp)
	}
	os.Exit(code)
}

// directory returns the shared slapd, failing the test when it cannot run.
func directory(t *testing.T) *slapd.Server {
	t.Helper()
	dirOnce.Do(func() {
		if dirTmp, dirErr = os.MkdirTemp("", "ldapup-slapd-"); dirErr != nil {
			return
		}
		dir, dirErr = slapd.Start(dirTmp)
	})
	if dirErr != nil {
		t.Fatalf("the real OpenLDAP fixture does not run: %v", dirErr)
	}
	return dir
}

// ldapsConfig is a provider for the fixture over ldaps:// with its CA.
func ldapsConfig(t *testing.T) Config {
	s := directory(t)
	return Config{
		URL: s.LDAPSURL(), BindDN: s.ServiceDN(), BindPassword: s.ServicePassword(),
		BaseDN: s.BaseDN(), UserFilter: slapd.UserFilter, CACertPEM: s.CACertPEM(),
		Timeout: 5 * time.Second,
	}
}

// startTLSConfig is the same over ldap:// upgraded with StartTLS.
func startTLSConfig(t *testing.T) Config {
	c := ldapsConfig(t)
	c.URL, c.StartTLS = directory(t).URL(), true
	return c
}

func user(t *testing.T, uid string) slapd.User {
	for _, u := range directory(t).Users() {
		if u.UID == uid {
			return u
		}
	}
	t.Fatalf("no user %q in the fixture", uid)
	return slapd.User{}
}

// otherCAPEM is a CA that signed nothing the fixture serves.
func otherCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// captureLog routes slog's default logger into a buffer for the test.
func captureLog(t *testing.T) *syncBuffer {
	t.Helper()
	var buf syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countingListener accepts connections and counts them; with silent it
// never answers (a hung server).
func countingListener(t *testing.T) (addr string, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int32)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return fmt.Sprintf("ldap://%s", l.Addr()), accepted
}

var bg = context.Background()
