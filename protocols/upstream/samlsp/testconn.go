package samlsp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

// certWarnWindow: a certificate that ends sooner than this is reported as a
// failed check, so the admin renews it before logins stop.
const certWarnWindow = 30 * 24 * time.Hour

// Test is the provider's "test connection": the IdP certificate parsed and
// inside its validity window, the IdP SSO URL answering an HTTP GET (any
// status below 500: IdPs answer a bare GET with 400 or a login page), the SP
// key and certificate matching, and the SP certificate's expiry. Every line
// says in words what worked or what did not.
func Test(ctx context.Context, c Config) []upstream.Check {
	now := time.Now()
	var out []upstream.Check
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, upstream.Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}

	if idp, err := parseCert(c.IdPCert); err != nil {
		add("IdP certificate", false, "cannot read the IdP certificate: %v", err)
	} else {
		ok, detail := certWindow(idp.NotBefore, idp.NotAfter, now)
		add("IdP certificate", ok, "subject %q, %s", idp.Subject.String(), detail)
	}

	add2 := func(ok bool, format string, args ...any) { add("IdP SSO URL", ok, format, args...) }
	if c.IdPSSOURL == "" {
		add2(false, "no IdP SSO URL configured")
	} else if status, err := probe(ctx, c.HTTPClient, c.IdPSSOURL); err != nil {
		add2(false, "GET %s failed: %v", c.IdPSSOURL, err)
	} else if status >= 500 {
		add2(false, "GET %s answered HTTP %d (server error)", c.IdPSSOURL, status)
	} else {
		add2(true, "GET %s answered HTTP %d: reachable", c.IdPSSOURL, status)
	}

	if _, cert, err := parseKeyPair(c.SPKeyPEM, c.SPCertPEM); err != nil {
		add("SP key pair", false, "%v", err)
	} else {
		add("SP key pair", true, "SP private key matches the SP certificate (%d-bit RSA)", cert.PublicKey.(interface{ Size() int }).Size()*8)
		ok, detail := certWindow(cert.NotBefore, cert.NotAfter, now)
		add("SP certificate", ok, "%s", detail)
	}
	return out
}

// certWindow says where now lies in a certificate's validity.
func certWindow(notBefore, notAfter, now time.Time) (bool, string) {
	const day = "2006-01-02"
	switch {
	case now.Before(notBefore):
		return false, fmt.Sprintf("not valid yet: valid from %s", notBefore.UTC().Format(day))
	case !now.Before(notAfter):
		return false, fmt.Sprintf("expired on %s", notAfter.UTC().Format(day))
	case notAfter.Sub(now) < certWarnWindow:
		return false, fmt.Sprintf("valid but expires soon, on %s (%d days left)", notAfter.UTC().Format(day), int(notAfter.Sub(now).Hours()/24))
	default:
		return true, fmt.Sprintf("valid from %s until %s", notBefore.UTC().Format(day), notAfter.UTC().Format(day))
	}
}

// probe GETs u and returns the status; the body is drained a little so the
// connection can be reused and never read whole.
func probe(ctx context.Context, hc *http.Client, u string) (int, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	// Do not follow the IdP to its login page: the first answer tells
	// whether it is there.
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	return resp.StatusCode, nil
}
