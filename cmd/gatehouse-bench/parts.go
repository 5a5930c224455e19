package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// The server's argon2id parameters (idm/password); the bound is computed
// from an in-process hash with exactly these.
const (
	argonTime    = 2
	argonMemKiB  = 19456
	argonThreads = 1
	argonKeyLen  = 32
)

// bench carries what every part needs and collects the figures.
type bench struct {
	opt     options
	c       *cluster
	admin   *client // carries the idm_admin token
	anon    *client // same transport, no token (logins)
	leader  *node
	logf    func(format string, args ...any)
	loads   []loadRow
	figures []figure

	bin     string    // the gatehouse binary (the badlist part runs its CLI)
	hapPort int       // the balancer's port, allowed as a WebAuthn origin
	hap     *balancer // started by the first part that needs it
	krb     *benchKDC // the spnego-logins part's realm (nil unless selected)
	pwUser  *pwUser   // the password-login account, made once
	argon   *argonBound
}

// pwUser is the account the password-login parts log in as.
type pwUser struct{ name, pw string }

// argonBound is the argon2id timing the login figures are compared with.
type argonBound struct {
	perHash  time.Duration
	bound    float64 // cores ÷ perHash
	parallel float64 // in-process, one hashing goroutine per core
}

// adminLogin logs idm_admin in on the leader and reauthenticates at once:
// sessions are read-only until then, and every create would get 403
// reauth_required.
func (b *bench) adminLogin(ctx context.Context) error {
	tok, err := b.anon.login(ctx, b.leader.API, "idm_admin", b.c.info.IDMAdminPassword)
	if err != nil {
		return fmt.Errorf("log in as idm_admin: %w", err)
	}
	b.admin.token = tok
	return b.refreshAdmin(ctx)
}

// refreshAdmin reauthenticates idm_admin's session: a new write window of
// the resolved privilege expiry (10 minutes by default). Called between
// parts only, never while workers use the token.
func (b *bench) refreshAdmin(ctx context.Context) error {
	tok, err := b.admin.reauth(ctx, b.leader.API, b.c.info.IDMAdminPassword)
	if err != nil {
		return fmt.Errorf("reauthenticate idm_admin: %w", err)
	}
	b.admin.token = tok
	return nil
}

// bound times argon2id once per run.
func (b *bench) bound() *argonBound {
	if b.argon == nil {
		cores := runtime.NumCPU()
		b.logf("timing %d argon2id hashes in-process", b.opt.hashes)
		perHash := hashTime(b.opt.hashes)
		b.argon = &argonBound{perHash: perHash, bound: float64(cores) / perHash.Seconds(),
			parallel: parallelHashRate(cores, max(5, b.opt.hashes/cores))}
	}
	return b.argon
}

// passwordUser creates the password-login account once, with its password
// set by the admin, and waits until every node has applied it.
func (b *bench) passwordUser(ctx context.Context) (*pwUser, error) {
	if b.pwUser != nil {
		return b.pwUser, nil
	}
	pwBytes := make([]byte, 12)
	_, _ = rand.Read(pwBytes)
	u := &pwUser{name: "bench-login", pw: "Bl-" + hex.EncodeToString(pwBytes)}
	if err := b.admin.createPerson(ctx, b.leader.API, u.name); err != nil {
		return nil, fmt.Errorf("create %s: %w", u.name, err)
	}
	if err := b.admin.setPassword(ctx, b.leader.API, u.name, u.pw); err != nil {
		return nil, fmt.Errorf("set password of %s: %w", u.name, err)
	}
	// A node must have applied the password before it can check it.
	if err := b.waitAllApplied(ctx); err != nil {
		return nil, err
	}
	b.pwUser = u
	return u, nil
}

// record keeps one measured load (and its derived figures) for the tables
// and fails like allFailed; a cancelled run is not recorded.
func (b *bench) record(ctx context.Context, what string, row loadRow, figs ...figure) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.loads = append(b.loads, row)
	b.figures = append(b.figures, figs...)
	return allFailed(what, row.Res)
}

// waitAllApplied waits until every node has applied the leader's last
// index: a write is read, and a password checked, on any node next.
func (b *bench) waitAllApplied(ctx context.Context) error {
	for _, n := range b.c.nodes {
		if err := b.waitApplied(ctx, n, 10*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// allFailed turns a load in which nothing succeeded into an error, so that
// a broken setup (a 403 on every request) is not reported as 0 ops/s.
func allFailed(what string, res loadResult) error {
	if res.OK == 0 && res.Errors > 0 {
		return fmt.Errorf("%s: all %d operations failed; first: %s", what, res.Errors, res.FirstErr)
	}
	return nil
}

// follower is the node reads and logins go to: a non-leader, so the figures
// show that neither needs the leader.
func (b *bench) follower() *node {
	for _, n := range b.c.nodes {
		if n != b.leader {
			return n
		}
	}
	return b.leader
}

// seed creates count persons named prefix-0 .. prefix-(count-1) spread over
// the nodes. A 503 (no leader for a moment, or leadership lost while
// committing: the server says retrying is safe) is retried a few times; a
// 409 on a retry means the earlier attempt did commit. retried counts the
// creates that needed a retry, so an election during the load shows up.
func (b *bench) seed(ctx context.Context, prefix string, count int64, workers int) (res loadResult, retried int64) {
	nodes := b.c.nodes
	var retries atomic.Int64
	res = runLoad(ctx, workers, 0, count, func(ctx context.Context, _ int, seq int64) error {
		name := fmt.Sprintf("%s-%d", prefix, seq)
		var err error
		for attempt := range 6 {
			err = b.admin.createPerson(ctx, nodes[(seq+int64(attempt))%int64(len(nodes))].API, name)
			var he *httpError
			switch {
			case err == nil:
				return nil
			case attempt > 0 && errors.As(err, &he) && he.Status == http.StatusConflict:
				return nil
			case !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable:
				return err
			}
			if attempt == 0 {
				retries.Add(1)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 250 * time.Millisecond):
			}
		}
		return err
	})
	return res, retries.Load()
}

// writes: person creates through the API, spread round-robin over the three
// nodes (followers forward to the leader), for each concurrency level; then
// 1 and 256 writers against the leader only, which separates the cost of
// forwarding (and of a follower waiting to apply its own write) from Raft's.
func (b *bench) writes(ctx context.Context) error {
	runs := []struct {
		conc  int
		nodes []*node
		what  string
	}{
		{1, b.c.nodes, "all 3 nodes"}, {16, b.c.nodes, "all 3 nodes"}, {256, b.c.nodes, "all 3 nodes"},
		{1, []*node{b.leader}, "leader " + b.leader.ID + " only"}, {256, []*node{b.leader}, "leader " + b.leader.ID + " only"},
	}
	for i, r := range runs {
		b.logf("writes: %d writer(s) to %s for %v", r.conc, r.what, b.opt.duration)
		prefix := fmt.Sprintf("w%d", i)
		nodes := r.nodes
		res := runLoad(ctx, r.conc, b.opt.duration, 0, func(ctx context.Context, _ int, seq int64) error {
			return b.admin.createPerson(ctx, nodes[seq%int64(len(nodes))].API, fmt.Sprintf("%s-%d", prefix, seq))
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		b.loads = append(b.loads, loadRow{"person create (writes), " + r.what, res})
		if err := allFailed("writes", res); err != nil {
			return err
		}
	}
	return nil
}

// reads: GET /v1/person/{name} on one follower with 16 readers, over 1,000
// persons created first.
func (b *bench) reads(ctx context.Context) error {
	const n = 1000
	b.logf("reads: creating %d persons to read", n)
	if res, _ := b.seed(ctx, "r", n, 64); res.Errors > 0 {
		return fmt.Errorf("reads: seeding failed %d times: %s", res.Errors, res.FirstErr)
	}
	target := b.follower()
	b.logf("reads: 16 readers on %s for %v", target.ID, b.opt.duration)
	res := runLoad(ctx, 16, b.opt.duration, 0, func(ctx context.Context, _ int, seq int64) error {
		return b.admin.getPerson(ctx, target.API, fmt.Sprintf("r-%d", seq%n))
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	b.loads = append(b.loads, loadRow{"person get (local reads), " + target.ID, res})
	return nil
}

// hashTime is the mean wall time of one argon2id hash with the server's
// parameters in this process, after one warm-up hash.
func hashTime(count int) time.Duration {
	pw, salt := []byte("correct horse battery staple"), make([]byte, 16)
	argon2.IDKey(pw, salt, argonTime, argonMemKiB, argonThreads, argonKeyLen)
	start := time.Now()
	for range count {
		argon2.IDKey(pw, salt, argonTime, argonMemKiB, argonThreads, argonKeyLen)
	}
	return time.Since(start) / time.Duration(count)
}

// parallelHashRate is hashes per second with one goroutine per core, each
// hashing count times: the bound once the cores share caches and memory
// bandwidth, as they do in the server.
func parallelHashRate(cores, count int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	for range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw, salt := []byte("correct horse battery staple"), make([]byte, 16)
			for range count {
				argon2.IDKey(pw, salt, argonTime, argonMemKiB, argonThreads, argonKeyLen)
			}
		}()
	}
	wg.Wait()
	return float64(cores*count) / time.Since(start).Seconds()
}

// logins: full three-step password logins on one follower with 2×cores
// clients, against the argon2id bound cores ÷ time per hash.
func (b *bench) logins(ctx context.Context) error {
	cores := runtime.NumCPU()
	ab := b.bound()
	u, err := b.passwordUser(ctx)
	if err != nil {
		return fmt.Errorf("logins: %w", err)
	}
	target := b.follower()
	workers := 2 * cores
	b.logf("logins: %d clients on %s for %v", workers, target.ID, b.opt.duration)
	res := runLoad(ctx, workers, b.opt.duration, 0, func(ctx context.Context, _ int, _ int64) error {
		_, err := b.anon.login(ctx, target.API, u.name, u.pw)
		return err
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	b.loads = append(b.loads, loadRow{"password login (3 steps), " + target.ID, res})
	b.figures = append(b.figures,
		figure{"argon2id m=19456 KiB t=2 p=1, one hash in-process", fmtDur(ab.perHash), fmt.Sprintf("mean of %d", b.opt.hashes)},
		figure{"argon2id bound (cores ÷ time per hash)", fmt.Sprintf("%.1f hashes/s", ab.bound), fmt.Sprintf("%d cores", cores)},
		figure{"password logins achieved / bound", fmt.Sprintf("%.0f %%", 100*res.Rate()/ab.bound), fmt.Sprintf("%.1f logins/s", res.Rate())},
		figure{"argon2id in-process, one goroutine per core", fmt.Sprintf("%.1f hashes/s", ab.parallel), fmt.Sprintf("logins reach %.0f %% of this", 100*res.Rate()/ab.parallel)},
	)
	return allFailed("logins", res)
}

// waitApplied waits until n's applied index reaches the leader's.
func (b *bench) waitApplied(ctx context.Context, n *node, timeout time.Duration) error {
	lst, err := b.admin.status(ctx, b.leader.API)
	if err != nil {
		return fmt.Errorf("leader status: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		st, err := b.admin.status(ctx, n.API)
		if err == nil && st.AppliedIndex >= lst.AppliedIndex {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not reach applied index %d within %v (last: %+v, %v)", n.ID, lst.AppliedIndex, timeout, st, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// restart: load opt.persons persons with 256 writers, read every node's RSS,
// stop a follower with SIGTERM, start it again and time until /status
// answers 200 and until its applied index reaches the leader's.
func (b *bench) restart(ctx context.Context) error {
	b.logf("restart: creating %d persons with 256 writers", b.opt.persons)
	res, retried := b.seed(ctx, "p", int64(b.opt.persons), 256)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.loads = append(b.loads, loadRow{fmt.Sprintf("bulk load of %d persons, all 3 nodes", b.opt.persons), res})
	b.figures = append(b.figures, figure{"bulk load: creates retried after a 503", fmt.Sprintf("%d", retried),
		"no leader for a moment; the server says retrying is safe"})
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d creates failed even after retries: %s", res.Errors, b.opt.persons, res.FirstErr)
	}
	// An election under load may have moved the leader.
	old := b.leader
	leader, err := b.c.waitReady(ctx, b.admin, 60*time.Second)
	if err != nil {
		return err
	}
	b.leader = leader
	if leader != old {
		b.figures = append(b.figures, figure{"leader after the bulk load", leader.ID, "was " + old.ID + ": an election happened under load"})
	}

	target := b.follower()
	for _, n := range b.c.nodes {
		if err := b.waitApplied(ctx, n, 60*time.Second); err != nil {
			return err
		}
	}
	for _, n := range b.c.nodes {
		kib, err := rssKiB(n.PID())
		if err != nil {
			return err
		}
		role := "follower"
		if n == b.leader {
			role = "leader"
		}
		b.figures = append(b.figures, figure{fmt.Sprintf("RSS of %s (%s) with %d persons", n.ID, role, b.opt.persons), fmtKiB(kib), ""})
	}
	lst, err := b.admin.status(ctx, b.leader.API)
	if err != nil {
		return fmt.Errorf("leader status: %w", err)
	}

	b.logf("restart: stopping %s (pid %d) with SIGTERM", target.ID, target.PID())
	t0 := time.Now()
	b.c.stopNode(target, 30*time.Second)
	stopTook := time.Since(t0)
	size := dirSize(filepath.Join(b.c.dir, target.ID, "data"))

	b.logf("restart: starting %s again", target.ID)
	start := time.Now()
	if err := b.c.startNode(target); err != nil {
		return err
	}
	var serving, caughtUp time.Duration
	for caughtUp == 0 {
		st, err := b.admin.status(ctx, target.API)
		if err == nil {
			if serving == 0 {
				serving = time.Since(start)
			}
			if st.AppliedIndex >= lst.AppliedIndex {
				caughtUp = time.Since(start)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-target.exited:
			return fmt.Errorf("%s exited; see %s", target.ID, target.log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Since(start) > 120*time.Second {
			return fmt.Errorf("%s not caught up within 120 s (serving after %v)", target.ID, serving)
		}
	}
	kib, err := rssKiB(target.PID())
	if err != nil {
		return err
	}
	b.figures = append(b.figures,
		figure{fmt.Sprintf("data folder of %s (Raft log + state.db)", target.ID), fmtKiB(size / 1024), ""},
		figure{"SIGTERM to exit, " + target.ID, fmtDur(stopTook), ""},
		figure{"restart to /status 200, " + target.ID, fmtDur(serving), "from process start"},
		figure{"restart to applied index = leader's, " + target.ID, fmtDur(caughtUp), fmt.Sprintf("index %d", lst.AppliedIndex)},
		figure{fmt.Sprintf("RSS of %s right after restart", target.ID), fmtKiB(kib), ""},
	)
	return nil
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}
