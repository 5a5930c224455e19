package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/fido/fidotest"
)

// balancer starts HAProxy in front of the three nodes on first use.
func (b *bench) balancer(ctx context.Context) (*balancer, error) {
	if b.hap != nil {
		return b.hap, nil
	}
	b.logf("starting HAProxy on 127.0.0.1:%d (tcp passthrough, round robin) and waiting for UP/L7OK", b.hapPort)
	h, err := startBalancer(ctx, b.hapPort, b.c.nodes)
	if err != nil {
		return nil, err
	}
	b.logf("HAProxy pid %d, %s", h.PID(), h.URL())
	b.hap = h
	return h, nil
}

// loginsHAProxy: the same three-step password logins through HAProxy in
// front of all three nodes, with 2×cores clients per node. HAProxy in tcp
// mode balances connections: each client's kept-alive connection lands on
// one node, round robin, so the clients are spread evenly over the nodes.
func (b *bench) loginsHAProxy(ctx context.Context) error {
	ab := b.bound()
	u, err := b.passwordUser(ctx)
	if err != nil {
		return fmt.Errorf("logins-haproxy: %w", err)
	}
	h, err := b.balancer(ctx)
	if err != nil {
		return err
	}
	workers := len(b.c.nodes) * 2 * runtime.NumCPU()
	b.logf("logins-haproxy: %d clients through %s for %v", workers, h.URL(), b.opt.duration)
	res := runLoad(ctx, workers, b.opt.duration, 0, func(ctx context.Context, _ int, _ int64) error {
		_, err := b.anon.login(ctx, h.URL(), u.name, u.pw)
		return err
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	b.loads = append(b.loads, loadRow{"password login (3 steps), HAProxy → 3 nodes", res})
	b.figures = append(b.figures, figure{"password logins through HAProxy / bound", fmt.Sprintf("%.0f %%", 100*res.Rate()/ab.bound),
		fmt.Sprintf("%.1f logins/s; the 3 nodes share the same %d cores", res.Rate(), runtime.NumCPU())})
	return allFailed("logins-haproxy", res)
}

// passkeyLogins: persons with one passkey each, enrolled through the
// credential-update API with a software authenticator, then passkey logins
// (init, begin passkey, cred passkey) on one follower and through HAProxy.
// Each client logs in as its own person, so that every credential's
// signature counter rises in order.
func (b *bench) passkeyLogins(ctx context.Context) error {
	h, err := b.balancer(ctx)
	if err != nil {
		return err
	}
	cores := runtime.NumCPU()
	direct, viaHAP := 2*cores, len(b.c.nodes)*2*cores
	persons := max(direct, viaHAP)
	target := b.follower()
	// The authenticator's client data names the page's origin: the node's
	// own address (always allowed), or the balancer's (allowed through the
	// [webauthn] origins the benchmark adds to every config).
	auth := fidotest.New(target.API)
	authHAP := auth.ForOrigin(h.URL())

	b.logf("passkey-logins: enrolling a passkey for %d persons on %s", persons, target.ID)
	names := make([]string, persons)
	t0 := time.Now()
	for i := range names {
		names[i] = fmt.Sprintf("bench-pk-%d", i)
		// Created through the target: the write returns once the target
		// has applied it, so the reset token can be issued there at once.
		if err := b.admin.createPerson(ctx, target.API, names[i]); err != nil {
			return fmt.Errorf("passkey-logins: create %s: %w", names[i], err)
		}
		if _, err := b.admin.enrolPasskey(ctx, target.API, names[i], func(o json.RawMessage) (json.RawMessage, error) {
			return auth.Register(o, true)
		}); err != nil {
			return fmt.Errorf("passkey-logins: %w", err)
		}
	}
	enrol := time.Since(t0) / time.Duration(persons)
	if err := b.waitAllApplied(ctx); err != nil {
		return err
	}

	runs := []struct {
		workers int
		base    string
		auth    *fidotest.Authenticator
		what    string
	}{
		{direct, target.API, auth, target.ID},
		{viaHAP, h.URL(), authHAP, "HAProxy → 3 nodes"},
	}
	for _, r := range runs {
		b.logf("passkey-logins: %d clients on %s for %v", r.workers, r.what, b.opt.duration)
		res := runLoad(ctx, r.workers, b.opt.duration, 0, func(ctx context.Context, w int, _ int64) error {
			_, err := b.anon.passkeyLogin(ctx, r.base, names[w], func(o json.RawMessage) (json.RawMessage, error) {
				return r.auth.Login(o, true)
			})
			return err
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		b.loads = append(b.loads, loadRow{"passkey login (3 steps), " + r.what, res})
		b.figures = append(b.figures, figure{"passkey logins, " + r.what + " / argon2id bound", fmt.Sprintf("%.1f ×", res.Rate()/b.bound().bound),
			fmt.Sprintf("%.1f logins/s; no password hash: ECDSA P-256 signing (client) and verifying (node)", res.Rate())})
		if err := allFailed("passkey-logins", res); err != nil {
			return err
		}
	}
	b.figures = append(b.figures, figure{"passkey enrolment through the credential-update API", fmtDur(enrol),
		"per person: reset token, open, webauthn begin/finish, commit"})
	return nil
}

// burstResult is what the login-memory burst counted.
type burstResult struct {
	ok, busy, otherErr, setupErr int64
	firstErr                     string
	took, total                  time.Duration
	rssBefore, rssPeak, rssAfter int64
	samples                      int
}

// loginMemory: opt.burst password logins against one follower at once.
// Every client first runs init and begin (all concurrently), then all send
// the password step together: the node's hash queue, not the number of
// clients, must bound the work and the memory. VmRSS is sampled every
// 50 ms from /proc while the burst runs.
func (b *bench) loginMemory(ctx context.Context) error {
	u, err := b.passwordUser(ctx)
	if err != nil {
		return fmt.Errorf("login-memory: %w", err)
	}
	target := b.follower()
	// A transport of its own: opt.burst connections, and a timeout long
	// enough for the last queued hash.
	cl, err := newClient(b.c.info.CA, b.opt.burst, b.opt.h2)
	if err != nil {
		return err
	}
	defer cl.close()
	cl.hc.Timeout = 5 * time.Minute
	// Let the node settle (GC after the earlier parts) before the baseline.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Second):
	}
	// A burst a tenth the size first: if the queue bounds the work, the
	// big burst's peak is about the small one's, not ten times its growth.
	small := max(1, b.opt.burst/10)
	b.logf("login-memory: %d concurrent password logins on %s (pid %d)", small, target.ID, target.PID())
	rs, err := burst(ctx, cl, target, small, u)
	if err != nil {
		return err
	}
	b.logf("login-memory: %d concurrent password logins on %s", b.opt.burst, target.ID)
	r, err := burst(ctx, cl, target, b.opt.burst, u)
	if err != nil {
		return err
	}
	b.loads = append(b.loads, loadRow{fmt.Sprintf("password login burst, %d at once, %s", b.opt.burst, target.ID),
		loadResult{Workers: b.opt.burst, OK: r.ok, Errors: r.busy + r.otherErr + r.setupErr, FirstErr: r.firstErr, Elapsed: r.took}})
	b.figures = append(b.figures,
		figure{fmt.Sprintf("first, %d concurrent logins: RSS of %s before / peak", small, target.ID),
			fmtKiB(rs.rssBefore) + " / " + fmtKiB(rs.rssPeak), fmt.Sprintf("%d ok, %d answered 503, in %s", rs.ok, rs.busy, fmtDur(rs.took))},
		figure{fmt.Sprintf("RSS of %s before the burst", target.ID), fmtKiB(r.rssBefore), ""},
		figure{fmt.Sprintf("peak RSS of %s during %d concurrent logins", target.ID, b.opt.burst), fmtKiB(r.rssPeak),
			fmt.Sprintf("+%s; %d samples every 50 ms; %d unbounded hashes would need %.1f GiB", fmtKiB(r.rssPeak-r.rssBefore), r.samples,
				b.opt.burst, float64(b.opt.burst)*argonMemKiB/(1<<20))},
		figure{fmt.Sprintf("RSS of %s after the burst", target.ID), fmtKiB(r.rssAfter), ""},
		figure{"burst: logins succeeded", fmt.Sprintf("%d of %d", r.ok, b.opt.burst), ""},
		figure{"burst: password steps answered 503 (queue full)", fmt.Sprintf("%d", r.busy), "too many logins in progress; retrying later is safe"},
		figure{"burst: other failures", fmt.Sprintf("%d", r.otherErr+r.setupErr), fmt.Sprintf("%d in init/begin", r.setupErr)},
		figure{"burst: time to finish", fmtDur(r.took), fmt.Sprintf("from the release of the password steps to the last answer; %s with init and begin", fmtDur(r.total))},
	)
	if r.ok == 0 {
		return fmt.Errorf("login-memory: no login of the burst succeeded; first error: %s", r.firstErr)
	}
	return nil
}

// burst runs n logins as described at loginMemory and samples target's RSS.
func burst(ctx context.Context, cl *client, target *node, n int, u *pwUser) (burstResult, error) {
	var r burstResult
	pid := target.PID()
	before, err := rssKiB(pid)
	if err != nil {
		return r, err
	}
	r.rssBefore, r.rssPeak = before, before
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if kib, err := rssKiB(pid); err == nil {
					r.samples++
					r.rssPeak = max(r.rssPeak, kib)
				}
			}
		}
	}()

	var (
		ok, busy, other, setup atomic.Int64
		errOnce                sync.Once
		wgReady, wgDone        sync.WaitGroup
	)
	note := func(err error) { errOnce.Do(func() { r.firstErr = err.Error() }) }
	release := make(chan struct{})
	start := time.Now()
	for range n {
		wgReady.Add(1)
		wgDone.Add(1)
		go func() {
			defer wgDone.Done()
			_, sid, err := cl.authStep(ctx, target.API, "", map[string]any{"init": u.name})
			if err == nil {
				_, sid, err = cl.authStep(ctx, target.API, sid, map[string]any{"begin": "password"})
			}
			wgReady.Done()
			if err != nil {
				setup.Add(1)
				note(err)
				return
			}
			<-release
			a, _, err := cl.authStep(ctx, target.API, sid, map[string]any{"cred": map[string]string{"password": u.pw}})
			var he *httpError
			switch {
			case err == nil && a.State.Success != nil:
				ok.Add(1)
			case errors.As(err, &he) && he.Status == http.StatusServiceUnavailable:
				busy.Add(1)
			case err == nil:
				other.Add(1)
				note(fmt.Errorf("no success: %+v", a.State))
			default:
				other.Add(1)
				note(err)
			}
		}()
	}
	wgReady.Wait()
	released := time.Now()
	close(release)
	wgDone.Wait()
	r.took, r.total = time.Since(released), time.Since(start)
	close(stopSampling)
	<-sampled
	if err := ctx.Err(); err != nil {
		return r, err
	}
	r.ok, r.busy, r.otherErr, r.setupErr = ok.Load(), busy.Load(), other.Load(), setup.Load()
	after, err := rssKiB(pid)
	if err != nil {
		return r, err
	}
	r.rssAfter = after
	return r, nil
}
