package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// parts in the order they run. restart loads 100,000 persons and reads
// every node's memory; login-memory and badlist come after it so that the
// burst's garbage and half a million stored passwords do not change
// restart's memory and disk figures (and the burst meets a node holding a
// realistic data set).
var allParts = []string{"writes", "reads", "logins", "logins-haproxy", "passkey-logins", "spnego-logins", "oauth2-cc", "oauth2-code", "oauth2-refresh", "restart", "login-memory", "badlist"}

type options struct {
	bin      string
	duration time.Duration
	persons  int
	hashes   int
	only     []string
	basePort int
	keep     bool
	h2       bool
	burst    int // concurrent logins of login-memory
	badlist  int // lines of the generated badlist
	// ext points the oauth2-cc part at another provider (-issuer): no
	// cluster is started.
	ext externalOptions
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "gatehouse-bench: interrupted; every node was stopped")
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "gatehouse-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var o options
	var only string
	quick := fs.Bool("quick", false, "smoke run: 2 s per load, 2,000 persons, 5 hashes, a burst of 500 logins, 20,000 badlist lines (unless those flags are given)")
	fs.StringVar(&o.bin, "gatehouse", "bin/gatehouse", "path of the gatehouse binary (make build)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "duration of each timed load")
	fs.IntVar(&o.persons, "persons", 100000, "persons to load before the memory and restart measurement")
	fs.IntVar(&o.hashes, "hashes", 20, "argon2id hashes to average for the login bound")
	fs.IntVar(&o.burst, "burst", 1000, "concurrent password logins of login-memory")
	fs.IntVar(&o.badlist, "badlist-lines", 1000000, "lines of the badlist file the badlist part generates and uploads")
	fs.StringVar(&only, "only", strings.Join(allParts, ","), "comma-separated parts to run: "+strings.Join(allParts, ","))
	fs.IntVar(&o.basePort, "base-port", 0, "API port of the first node (0: pick free ports)")
	fs.BoolVar(&o.keep, "keep", false, "keep the cluster folder (configs, data, logs) after the run")
	fs.BoolVar(&o.h2, "h2", false, "use HTTP/2 (one multiplexed connection per node) instead of one HTTP/1.1 connection per client")
	fs.StringVar(&o.ext.issuer, "issuer", "", "measure client-credentials grants at this OIDC issuer instead of a Gatehouse cluster (with -client-id, -client-secret; only the oauth2-cc part)")
	fs.StringVar(&o.ext.clientID, "client-id", "", "client id for -issuer")
	fs.StringVar(&o.ext.clientSecret, "client-secret", "", "client secret for -issuer (HTTP Basic)")
	fs.StringVar(&o.ext.caFile, "issuer-ca", "", "PEM CA file for -issuer (default: the system roots)")
	fs.StringVar(&o.ext.scope, "scope", "", "scope to request from -issuer (default: none)")
	fs.IntVar(&o.ext.workers, "clients", 0, "concurrent clients for -issuer (default: 2 × cores)")
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: gatehouse-bench [flags]\n\nStarts a three-node Gatehouse cluster on 127.0.0.1, measures it and prints the figures.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["duration"] {
			o.duration = 2 * time.Second
		}
		if !set["persons"] {
			o.persons = 2000
		}
		if !set["hashes"] {
			o.hashes = 5
		}
		if !set["burst"] {
			o.burst = 500
		}
		if !set["badlist-lines"] {
			o.badlist = 20000
		}
	}
	for _, p := range strings.Split(only, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(allParts, p) {
			return o, fmt.Errorf("-only: unknown part %q (known: %s)", p, strings.Join(allParts, ","))
		}
		o.only = append(o.only, p)
	}
	if len(o.only) == 0 {
		return o, errors.New("-only names no part")
	}
	if o.ext.issuer != "" {
		if !set["only"] {
			o.only = []string{"oauth2-cc"}
		}
		if len(o.only) != 1 || o.only[0] != "oauth2-cc" || o.ext.clientID == "" || o.ext.clientSecret == "" {
			return o, errors.New("-issuer measures the oauth2-cc part only and needs -client-id and -client-secret")
		}
	}
	if o.duration <= 0 || o.persons <= 0 || o.hashes <= 0 || o.burst <= 0 || o.badlist <= 0 {
		return o, errors.New("-duration, -persons, -hashes, -burst and -badlist-lines must be positive")
	}
	return o, nil
}

func run(args []string, out, errOut io.Writer) (err error) {
	opt, err := parseFlags(args, errOut)
	if err != nil {
		return err
	}
	if opt.ext.issuer != "" {
		printHeader(out, args)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runExternalCC(ctx, opt.ext, opt.duration, out, errOut)
	}
	bin, err := filepath.Abs(opt.bin)
	if err != nil {
		return fmt.Errorf("gatehouse binary: %w", err)
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("gatehouse binary %s: %w (run `make build` first)", bin, err)
	}
	printHeader(out, args)

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer func() {
		// Kept after a failure for its server logs; an interrupt is not a failure.
		if opt.keep || (err != nil && !errors.Is(err, context.Canceled)) {
			fmt.Fprintf(errOut, "cluster folder kept: %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	// The KDC first: its port is then taken when the nodes' ports are
	// chosen, and the nodes' configs can name its keytab.
	var krb *benchKDC
	if slices.Contains(opt.only, "spnego-logins") {
		if krb, err = startBenchKDC(dir); err != nil {
			return err
		}
		defer krb.stop()
		fmt.Fprintf(errOut, "%s  MIT KDC for %s on %s (pid %d)\n", time.Now().Format("15:04:05"), benchRealm, krb.kdc.Addr(), krb.kdc.PID())
	}
	port := opt.basePort
	if port == 0 {
		if port, err = freeBasePort(); err != nil {
			return err
		}
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(errOut, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	// The balancer's port is chosen now: the nodes must allow its origin
	// for passkeys before they start.
	hapPort, err := freePort(func(p int) bool { return p >= port && p <= port+202 })
	if err != nil {
		return err
	}
	logf("starting the cluster in %s (base port %d)", dir, port)
	c, err := startCluster(ctx, bin, dir, port, []string{fmt.Sprintf("https://localhost:%d", hapPort)}, krb.configTOML())
	defer c.stop() // registered before the error check: a half-started cluster is stopped too
	if err != nil {
		return err
	}

	cl, err := newClient(c.info.CA, 300, opt.h2)
	if err != nil {
		return err
	}
	defer cl.close()
	leader, err := c.waitReady(ctx, cl, 60*time.Second)
	if err != nil {
		return err
	}
	b := &bench{opt: opt, c: c, leader: leader, logf: logf, bin: bin, hapPort: hapPort,
		admin: &client{hc: cl.hc}, anon: &client{hc: cl.hc}, krb: krb}
	defer func() { b.hap.stop() }()
	if err := b.adminLogin(ctx); err != nil {
		return err
	}
	logf("cluster ready: leader %s; pids %s", leader.ID, pids(c))

	parts := map[string]func(context.Context) error{
		"writes": b.writes, "reads": b.reads, "logins": b.logins, "logins-haproxy": b.loginsHAProxy,
		"passkey-logins": b.passkeyLogins, "spnego-logins": b.spnegoLogins,
		"oauth2-cc": b.oauth2CC, "oauth2-code": b.oauth2Code, "oauth2-refresh": b.oauth2Refresh, "login-memory": b.loginMemory, "restart": b.restart, "badlist": b.badlistUpload,
	}
	for _, p := range allParts {
		if !slices.Contains(opt.only, p) {
			continue
		}
		// A fresh write window for every part: the default privilege
		// expiry (10 min) is shorter than a full run.
		if err := b.refreshAdmin(ctx); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := parts[p](ctx); err != nil {
			printTables(out, b.loads, b.figures) // what was measured so far
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	fmt.Fprintf(out, "load average at the end: %s\n\n", loadAvg())
	printTables(out, b.loads, b.figures)
	return nil
}

func pids(c *cluster) string {
	var s []string
	for _, n := range c.nodes {
		s = append(s, fmt.Sprintf("%s=%d", n.ID, n.PID()))
	}
	return strings.Join(s, " ")
}

// printHeader names the machine and the exact command, so a figure can be
// traced back to how it was produced.
func printHeader(w io.Writer, args []string) {
	cmd := "gatehouse-bench"
	if exe, err := os.Executable(); err == nil && strings.Contains(exe, "go-build") {
		cmd = "go run ./cmd/gatehouse-bench" // the binary lives in go run's temp dir
	} else if len(os.Args) > 0 {
		cmd = os.Args[0]
	}
	for _, a := range args {
		cmd += " " + shellQuote(a)
	}
	fmt.Fprintf(w, "command: %s\n", cmd)
	fmt.Fprintf(w, "machine: %d cores (GOMAXPROCS %d), %s, Linux %s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0),
		cpuModel(), strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")), runtime.Version())
	fmt.Fprintf(w, "date: %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "load average at the start: %s\n\n", loadAvg())
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}
