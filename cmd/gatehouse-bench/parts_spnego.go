package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/gatehouse-idm/gatehouse/ops/mitkdc"
)

// SPNEGO logins against a real MIT KDC (ops/mitkdc) started in the
// benchmark's folder. Every node holds HTTP/localhost's key (one shared
// keytab, as behind a load balancer): the nodes and the balancer are all
// reached as https://localhost:PORT.
const (
	benchRealm = "BENCH.TEST"
	benchSPN   = "HTTP/localhost"
)

// benchKDC is the realm of the spnego-logins part.
type benchKDC struct {
	kdc    *mitkdc.KDC
	keytab string
	conf   *krbconfig.Config
}

// startBenchKDC starts the realm with HTTP/localhost and writes the
// nodes' keytab. It runs before the nodes start: their configs name the
// keytab.
func startBenchKDC(dir string) (*benchKDC, error) {
	d := filepath.Join(dir, "krb")
	if err := os.Mkdir(d, 0o700); err != nil {
		return nil, fmt.Errorf("spnego-logins: %w", err)
	}
	kdc, err := mitkdc.Start(d, benchRealm)
	if err != nil {
		return nil, fmt.Errorf("spnego-logins needs a local MIT KDC: %w", err)
	}
	k := &benchKDC{kdc: kdc, keytab: filepath.Join(d, "http.keytab")}
	if err := kdc.AddRandKey(benchSPN); err != nil {
		k.stop()
		return nil, fmt.Errorf("spnego-logins: %w", err)
	}
	if err := kdc.Keytab(k.keytab, benchSPN); err != nil {
		k.stop()
		return nil, fmt.Errorf("spnego-logins: %w", err)
	}
	if k.conf, err = krbconfig.Load(kdc.Krb5Conf()); err != nil {
		k.stop()
		return nil, fmt.Errorf("spnego-logins: load %s: %w", kdc.Krb5Conf(), err)
	}
	return k, nil
}

// stop ends krb5kdc. Safe on nil.
func (k *benchKDC) stop() {
	if k != nil {
		k.kdc.Stop()
	}
}

// configTOML is the [kerberos] table added to every node's config.
func (k *benchKDC) configTOML() string {
	if k == nil {
		return ""
	}
	return fmt.Sprintf("\n# Added by gatehouse-bench: SPNEGO logins against the bench's MIT KDC.\n[kerberos]\n"+
		"keytab = %s\nrealms = [%s]\nservice_principals = [%s]\n",
		tomlString(k.keytab), tomlString(benchRealm), tomlString(benchSPN))
}

// tomlString quotes s as a TOML basic string (strconv.Quote's escapes
// are TOML's for anything a path or a realm holds).
func tomlString(s string) string { return fmt.Sprintf("%q", s) }

// spnegoLogins: persons each listing their own principal, one gokrb5
// client per load goroutine (TGT once, the service ticket fetched on the
// first login and cached, as browsers and curl do; a new authenticator,
// hence a new AP-REQ, for every login), then logins of two legs each (the
// 401 challenge, then Authorization: Negotiate) on one follower and
// through HAProxy.
func (b *bench) spnegoLogins(ctx context.Context) error {
	if b.krb == nil {
		return errors.New("spnego-logins: no KDC was started")
	}
	h, err := b.balancer(ctx)
	if err != nil {
		return err
	}
	cores := runtime.NumCPU()
	direct, viaHAP := 2*cores, len(b.c.nodes)*2*cores
	target := b.follower()
	users := max(direct, viaHAP)

	b.logf("spnego-logins: %d principals in %s, each listed on a person made on %s, each with a TGT", users, benchRealm, target.ID)
	clients := make([]*krbclient.Client, users)
	defer func() {
		for _, cl := range clients {
			if cl != nil {
				cl.Destroy()
			}
		}
	}()
	var asTotal time.Duration
	for i := range clients {
		name := fmt.Sprintf("bench-krb-%d", i)
		principal := name + "@" + benchRealm
		pwBytes := make([]byte, 12)
		_, _ = rand.Read(pwBytes)
		pw := "Kb-" + hex.EncodeToString(pwBytes)
		if err := b.krb.kdc.AddPrincipal(name, pw); err != nil {
			return fmt.Errorf("spnego-logins: %w", err)
		}
		if err := b.admin.createPerson(ctx, target.API, name); err != nil {
			return fmt.Errorf("spnego-logins: create %s: %w", name, err)
		}
		if err := b.admin.addKerberosPrincipal(ctx, target.API, name, principal); err != nil {
			return fmt.Errorf("spnego-logins: list %s on %s: %w", principal, name, err)
		}
		cl := krbclient.NewWithPassword(name, benchRealm, pw, b.krb.conf, krbclient.DisablePAFXFAST(true))
		t0 := time.Now()
		if err := cl.Login(); err != nil {
			return fmt.Errorf("spnego-logins: TGT of %s from the KDC at %s: %w", principal, b.krb.kdc.Addr(), err)
		}
		asTotal += time.Since(t0)
		clients[i] = cl
	}
	if err := b.waitAllApplied(ctx); err != nil {
		return err
	}
	// One login per client first: it fetches the service ticket (a TGS
	// exchange the timed loads do not repeat) and shows a setup problem
	// as the server's reason rather than as a rate of errors.
	t0 := time.Now()
	for i, cl := range clients {
		if err := b.anon.spnegoLogin(ctx, target.API, cl, benchSPN); err != nil {
			return fmt.Errorf("spnego-logins: first login of bench-krb-%d on %s: %w", i, target.ID, err)
		}
	}
	first := time.Since(t0) / time.Duration(len(clients))

	runs := []struct {
		workers int
		base    string
		what    string
	}{
		{direct, target.API, target.ID},
		{viaHAP, h.URL(), "HAProxy → 3 nodes"},
	}
	for _, r := range runs {
		b.logf("spnego-logins: %d clients on %s for %v", r.workers, r.what, b.opt.duration)
		res := runLoad(ctx, r.workers, b.opt.duration, 0, func(ctx context.Context, w int, _ int64) error {
			return b.anon.spnegoLogin(ctx, r.base, clients[w], benchSPN)
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		b.loads = append(b.loads, loadRow{"SPNEGO login (401 challenge + Negotiate AP-REQ), " + r.what, res})
		b.figures = append(b.figures, figure{"SPNEGO logins, " + r.what + " / argon2id bound", fmt.Sprintf("%.1f ×", res.Rate()/b.bound().bound),
			fmt.Sprintf("%.1f logins/s; no password hash: AES ticket and authenticator decryption, a cluster-wide replay claim", res.Rate())})
		if err := allFailed("spnego-logins", res); err != nil {
			return err
		}
	}
	b.figures = append(b.figures,
		figure{"Kerberos TGT (AS exchange with the bench KDC), per client", fmtDur(asTotal / time.Duration(len(clients))), "once per client, before the loads"},
		figure{"first SPNEGO login per client (with its TGS exchange)", fmtDur(first), "sequential, on " + target.ID},
	)
	return nil
}

// addKerberosPrincipal lists principal on person (POST
// /v1/person/{id}/kerberos/principals; c must be a read-write admin).
func (c *client) addKerberosPrincipal(ctx context.Context, base, person, principal string) error {
	_, err := c.do(ctx, http.MethodPost, base+"/v1/person/"+url.PathEscape(person)+"/kerberos/principals",
		nil, map[string]string{"principal": principal}, nil, http.StatusOK)
	return err
}

// spnegoLogin is one SPNEGO login as browsers and curl do it: GET
// /v1/auth/spnego answers 401 with the Negotiate challenge, then the same
// GET with an AP-REQ for spn made by krb (gokrb5's SPNEGO token; its
// spnego.Client is not used because it retries every 401 Negotiate
// answer, so a refused login would loop) answers 200 with the token.
func (c *client) spnegoLogin(ctx context.Context, base string, krb *krbclient.Client, spn string) error {
	u := base + "/v1/auth/spnego"
	hdr, err := c.do(ctx, http.MethodGet, u, nil, nil, nil, http.StatusUnauthorized)
	if err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	if ch := hdr.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Negotiate") {
		return fmt.Errorf("challenge: WWW-Authenticate %q, want Negotiate", ch)
	}
	probe, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if err := spnego.SetSPNEGOHeader(krb, probe, spn); err != nil {
		return fmt.Errorf("Kerberos token for %s: %w", spn, err)
	}
	var out struct {
		Token string `json:"token"`
	}
	if _, err := c.do(ctx, http.MethodGet, u, http.Header{"Authorization": {probe.Header.Get("Authorization")}}, nil, &out, http.StatusOK); err != nil {
		return err
	}
	if out.Token == "" {
		return errors.New("SPNEGO login answered 200 without a token")
	}
	return nil
}
