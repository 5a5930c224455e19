package ldapup

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// caPool parses the configured CA certificates.
func caPool(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemText)) {
		return nil, fmt.Errorf("%w: the CA certificate is not a PEM certificate", ErrConfig)
	}
	return pool, nil
}

// tlsConfig is the client TLS configuration for host: the configured CA
// (else the system roots), or no verification at all when SkipVerify is
// set, which is logged as a warning on every use.
func tlsConfig(c Config, host string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.SkipVerify {
		slog.Warn("ldap: TLS certificate verification is skipped for this provider; anyone on the network path can impersonate the directory and read passwords",
			"url", c.URL)
		tc.InsecureSkipVerify = true
		return tc, nil
	}
	if c.CACertPEM != "" {
		pool, err := caPool(c.CACertPEM)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// target splits the URL into scheme and host:port (default ports 389 and
// 636).
func target(raw string) (scheme, host, addr string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", fmt.Errorf("%w: URL %q: %v", ErrConfig, raw, err)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"ldap": "389", "ldaps": "636"}[u.Scheme]
	}
	return u.Scheme, u.Hostname(), net.JoinHostPort(u.Hostname(), port), nil
}

// connect opens the connection: TCP, TLS for ldaps://, StartTLS when
// configured. Every read and write is bound by ctx's deadline, and a
// cancel of ctx closes the connection (go-ldap's operations take no
// context).
func connect(ctx context.Context, c Config) (*ldap.Conn, error) {
	scheme, host, addr, err := target(c.URL)
	if err != nil {
		return nil, err
	}
	var tc *tls.Config
	if scheme == "ldaps" || c.StartTLS {
		if tc, err = tlsConfig(c, host); err != nil {
			return nil, err
		}
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ldap: connect to %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	conn := raw
	if scheme == "ldaps" {
		tlsConn := tls.Client(raw, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			raw.Close()
			if cerr := ctxErr(ctx); cerr != nil {
				return nil, fmt.Errorf("ldap: TLS with %s: %w", addr, cerr)
			}
			return nil, fmt.Errorf("ldap: TLS with %s: %s: %w", addr, certProblem(err), err)
		}
		conn = tlsConn
	}
	l := ldap.NewConn(conn, scheme == "ldaps")
	l.Start()
	if dl, ok := ctx.Deadline(); ok {
		l.SetTimeout(time.Until(dl))
	}
	// Closing is what interrupts an operation in flight; the connection is
	// closed by the caller too, and a second Close is harmless.
	context.AfterFunc(ctx, func() { l.Close() })
	if c.StartTLS {
		if err := l.StartTLS(tc); err != nil {
			l.Close()
			if cerr := ctxErr(ctx); cerr != nil {
				return nil, fmt.Errorf("ldap: StartTLS with %s: %w", addr, cerr)
			}
			return nil, fmt.Errorf("ldap: StartTLS with %s: %s: %w", addr, certProblem(err), err)
		}
	}
	return l, nil
}

// certProblem says in words what was wrong with the server's certificate
// (go-ldap's StartTLS keeps only the text of the handshake error, hence
// the text matches after the typed checks).
func certProblem(err error) string {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case errors.As(err, &ua) || strings.Contains(msg, "unknown authority"):
		return "the server certificate is not signed by a trusted CA (set the custom CA certificate to the CA that signed it)"
	case errors.As(err, &he) || strings.Contains(msg, "certificate is valid for") || strings.Contains(msg, "doesn't contain any IP SANs"):
		return "the server certificate is not valid for the host name in the URL"
	case (errors.As(err, &ci) && ci.Reason == x509.Expired) || strings.Contains(msg, "expired or is not yet valid"):
		return "the server certificate has expired or is not yet valid"
	case errors.As(err, &ci) || strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		return "the server certificate was refused"
	default:
		return "the TLS handshake failed"
	}
}
