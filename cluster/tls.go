package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/gatehouse-idm/gatehouse/ops/config"
)

// ALPN protocol names that split the one cluster listener in two.
const (
	alpnRaft = "gatehouse-raft"
	alpnRPC  = "gatehouse-rpc"
)

// handshakeTimeout bounds a TLS handshake so a silent peer cannot hold an
// accept slot.
const handshakeTimeout = 10 * time.Second

// LoadTLS reads the cluster CA, this node's certificate and its key.
func LoadTLS(c config.ClusterConfig) (*tls.Certificate, *x509.CertPool, error) {
	if c.CA == "" || c.Cert == "" || c.Key == "" {
		return nil, nil, errors.New("cluster TLS: ca, cert and key must all be set")
	}
	caPEM, err := os.ReadFile(c.CA)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster TLS: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("cluster TLS: no certificate found in %s", c.CA)
	}
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster TLS: load node certificate: %w", err)
	}
	return &cert, pool, nil
}

// certCN returns the common name of a certificate's leaf, which is the node
// id the certificate was issued to.
func certCN(cert *tls.Certificate) (string, error) {
	leaf := cert.Leaf
	if leaf == nil {
		if len(cert.Certificate) == 0 {
			return "", errors.New("empty certificate")
		}
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return "", fmt.Errorf("parse certificate: %w", err)
		}
	}
	return leaf.Subject.CommonName, nil
}

func serverTLSConfig(cert *tls.Certificate, ca *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{*cert},
		ClientCAs:    ca,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{alpnRaft, alpnRPC},
	}
}

func clientTLSConfig(cert *tls.Certificate, ca *x509.CertPool, proto string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{*cert},
		RootCAs:      ca,
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{proto},
	}
}

// NewRPCClient returns an HTTP client that speaks the cluster RPC: mutual
// TLS under the cluster CA with ALPN gatehouse-rpc. URLs look like
// https://<cluster addr>/rpc/status.
func NewRPCClient(cert *tls.Certificate, ca *x509.CertPool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   clientTLSConfig(cert, ca, alpnRPC),
		ForceAttemptHTTP2: false,
		// Forwarded writes come from many concurrent requests; each new
		// connection costs a mutual-TLS handshake on the leader.
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: handshakeTimeout,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	// Disable HTTP/2: our ALPN list carries only gatehouse-rpc.
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return &http.Client{Transport: tr}
}

// muxListener accepts TCP connections on the cluster address, completes
// the mutual-TLS handshake and hands each connection to the sub-listener
// named by its negotiated ALPN protocol.
type muxListener struct {
	ln     net.Listener
	tlsCfg *tls.Config
	log    *slog.Logger
	raft   *subListener
	rpc    *subListener
	done   chan struct{}
	once   sync.Once
}

func newMuxListener(ln net.Listener, tlsCfg *tls.Config, log *slog.Logger) *muxListener {
	m := &muxListener{ln: ln, tlsCfg: tlsCfg, log: log, done: make(chan struct{})}
	m.raft = &subListener{parent: m, conns: make(chan net.Conn)}
	m.rpc = &subListener{parent: m, conns: make(chan net.Conn)}
	go m.serve()
	return m
}

func (m *muxListener) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			m.log.Error("cluster listener stopped", "err", err)
			m.Close()
			return
		}
		go m.route(c)
	}
}

func (m *muxListener) route(c net.Conn) {
	tc := tls.Server(c, m.tlsCfg)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		// Rogue or misconfigured peers end here; debug level so a scan
		// cannot flood the log.
		m.log.Debug("cluster TLS handshake refused", "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Close()
		return
	}
	var target *subListener
	switch tc.ConnectionState().NegotiatedProtocol {
	case alpnRaft:
		target = m.raft
	case alpnRPC:
		target = m.rpc
		// net/http hands a *tls.Conn with an unknown ALPN protocol to
		// TLSNextProto and closes it otherwise; hiding the type makes it
		// serve HTTP/1.1. The TLS state travels with rpcConn instead.
		select {
		case target.conns <- &rpcConn{Conn: tc, state: tc.ConnectionState()}:
		case <-m.done:
			_ = tc.Close()
		}
		return
	default:
		_ = tc.Close()
		return
	}
	select {
	case target.conns <- tc:
	case <-m.done:
		_ = tc.Close()
	}
}

func (m *muxListener) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.ln.Close()
	})
	return err
}

// subListener is one ALPN protocol's share of the cluster listener.
type subListener struct {
	parent *muxListener
	conns  chan net.Conn
}

func (s *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.parent.done:
		return nil, net.ErrClosed
	}
}

func (s *subListener) Close() error   { return s.parent.Close() }
func (s *subListener) Addr() net.Addr { return s.parent.ln.Addr() }

// streamLayer is Raft's view of the cluster channel: the raft sub-listener
// for incoming connections and mTLS dials with ALPN gatehouse-raft.
type streamLayer struct {
	*subListener
	advertise net.Addr
	tlsCfg    *tls.Config
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func (s *streamLayer) Addr() net.Addr { return s.advertise }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	c, err := tls.DialWithDialer(d, "tcp", string(address), s.tlsCfg)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", address, err)
	}
	return c, nil
}

// rpcConn is an established cluster-RPC connection with its TLS state.
type rpcConn struct {
	net.Conn
	state tls.ConnectionState
}

type tlsStateKey struct{}

// rpcConnContext puts the connection's TLS state into each request's
// context so handlers can tell which node is calling.
func rpcConnContext(ctx context.Context, c net.Conn) context.Context {
	if rc, ok := c.(*rpcConn); ok {
		return context.WithValue(ctx, tlsStateKey{}, &rc.state)
	}
	return ctx
}
