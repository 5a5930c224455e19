package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/cluster"
	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/credupdate"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/config"
	"github.com/gatehouse-idm/gatehouse/ops/logging"
	"github.com/gatehouse-idm/gatehouse/ops/metrics"
	"github.com/gatehouse-idm/gatehouse/ops/rekey"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/gatehouse-idm/gatehouse/protocols/api"
	"github.com/gatehouse-idm/gatehouse/protocols/spnego"
	"github.com/gatehouse-idm/gatehouse/protocols/ui"
)

func serverCommand() *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "run a Gatehouse node",
		Description: "Reads the TOML configuration (see docs/operations.md); GATEHOUSE_* variables and the flags\n" +
			"below override it. The node refuses to start without a TLS certificate and key.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, EnvVars: []string{"GATEHOUSE_CONFIG"}, Usage: "configuration file (TOML)", Required: true},
			&cli.IntFlag{Name: "bootstrap-expect", Usage: "form a new cluster once this many servers see each other"},
			&cli.StringSliceFlag{Name: "join", Usage: "gossip addresses of other nodes (comma separated or repeated)"},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error"},
		},
		Action: runServer,
	}
}

func loadServerConfig(c *cli.Context) (*config.Config, error) {
	cfg, err := config.Load(c.String("config"))
	if err != nil {
		return nil, err
	}
	if c.IsSet("bootstrap-expect") {
		cfg.Cluster.BootstrapExpect = c.Int("bootstrap-expect")
	}
	if c.IsSet("join") {
		cfg.Cluster.Join = nil
		for _, j := range c.StringSlice("join") {
			for _, part := range strings.Split(j, ",") {
				if part = strings.TrimSpace(part); part != "" {
					cfg.Cluster.Join = append(cfg.Cluster.Join, part)
				}
			}
		}
	}
	if c.IsSet("log-level") {
		cfg.LogLevel = c.String("log-level")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// node is one running server: everything runServer wires together.
type node struct {
	cfg     *config.Config
	log     *slog.Logger
	fsm     *fsm.FSM
	cluster *cluster.Node
	svc     *idm.Service
	sealer  *seal.Sealer
	guard   *authguard.Guard
	keytab  *spnego.Keytab // nil without Kerberos
	http    *http.Server
}

// reload re-reads what SIGHUP promises to re-read: the Kerberos keytab.
func (n *node) reload() {
	if n.keytab == nil {
		n.log.Info("SIGHUP: nothing to reload (Kerberos is off)")
		return
	}
	if err := n.keytab.Reload(); err != nil {
		n.log.Warn("SIGHUP: the keytab could not be read again; the old keys stay", "keytab", n.keytab.Path(), "error", err)
		return
	}
	n.log.Info("SIGHUP: keytab reloaded", "keytab", n.keytab.Path())
}

func runServer(c *cli.Context) error {
	cfg, err := loadServerConfig(c)
	if err != nil {
		return err
	}
	n, err := startNode(cfg)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	s := <-sig
	for s == syscall.SIGHUP {
		n.reload()
		s = <-sig
	}
	n.log.Info("stopping", "signal", s.String())
	n.stop()
	return nil
}

func startNode(cfg *config.Config) (*node, error) {
	logger := logging.New(cfg.LogLevel, os.Stderr).With("node", cfg.NodeID)
	auditOut := io.Writer(os.Stderr)
	if cfg.AuditLog != "" {
		f, err := os.OpenFile(cfg.AuditLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open audit log: %w", err)
		}
		auditOut = f
	}
	audit := logging.NewAudit(auditOut)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	keys, err := config.LoadKeyring(cfg.Cluster.EncryptionKey)
	if err != nil {
		return nil, err
	}
	sealer, err := seal.NewRing(keys)
	if err != nil {
		return nil, err
	}
	reg := metrics.NewRegistry()
	if err := metrics.BridgeGoMetrics(reg); err != nil {
		return nil, err
	}
	fsmMetrics := metrics.NewFSM(reg)
	f, err := fsm.Open(filepath.Join(cfg.DataDir, "state.db"), fsm.Options{Logger: logger, Now: time.Now, ObserveApply: fsmMetrics.Observe})
	if err != nil {
		return nil, err
	}
	if err := metrics.RegisterEntries(reg, f.CountByClass); err != nil {
		return nil, err
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_state_bytes",
		Help: "Size of the node's state store (state.db)."}, func() float64 { return float64(f.StoreSize()) }))
	apiURL := "https://" + cfg.API.Listen
	cn, err := cluster.New(cluster.Config{NodeID: cfg.NodeID, DataDir: cfg.DataDir, Cluster: cfg.Cluster,
		APIAddr: apiURL, Registerer: reg, Logger: logger}, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	issuer := cfg.Origin
	if issuer == "" {
		issuer = apiURL
	}
	hasher := password.NewHasher(cfg.API.MaxConcurrentHashes, 0)
	signer := token.NewSigner(f, sealer, issuer)
	svc := &idm.Service{State: f, Prop: cn, Hasher: hasher, Audit: audit, Log: logger, Now: time.Now,
		Quality: passwordQuality(f)}
	rp, err := newRelyingParty(cfg)
	if err != nil {
		cn.Shutdown()
		f.Close()
		return nil, err
	}
	guard := authguard.New(authguard.Options{Peers: cn, Now: time.Now, Log: logger})
	authMetrics := metrics.NewAuth(reg)
	engine := &auth.Engine{State: f, Hasher: hasher, Signer: signer, NodeID: cfg.NodeID, Now: time.Now,
		Sealer: sealer, RP: rp, Guard: guard, Record: sessionRecorder(svc, logger), Log: logger,
		Observe: func(account, mech, result, remote string) {
			authMetrics.Login(mech, result)
			audit.Login(account, mech, result, cfg.NodeID, remote)
		}}
	n := &node{cfg: cfg, log: logger, fsm: f, cluster: cn, svc: svc, sealer: sealer, guard: guard}
	cn.HandleRPC(authguard.RPCPrefix, guard.Handler())
	rotator := &rekey.Rotator{Sealer: sealer, KeyFile: cfg.Cluster.EncryptionKey, Peers: cn, Svc: svc, Log: logger}
	cn.HandleRPC(rekey.RPCPrefix, rotator.Handler())
	cn.HandleRPC("/rpc/recover-account", http.HandlerFunc(n.handleRecover))
	// Profiles are served on the cluster channel only: reaching them takes
	// a node certificate of this cluster.
	cn.HandleRPC("/debug/pprof/", http.HandlerFunc(pprof.Index))
	cn.HandleRPC("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	go n.leaderDuties()
	go func() {
		for range time.Tick(30 * time.Second) {
			engine.Sweep() // also the guard's tables
		}
	}()

	pages := ui.New(ui.Config{Domain: func() string { return f.System().Domain }, Origin: issuer, Logger: logger})
	srv := &api.Server{Svc: svc, Auth: engine, Signer: signer, State: f, Cluster: cn, Peers: cn, NodeID: cfg.NodeID,
		Metrics: metrics.NewHTTP(reg), Log: logger, Now: time.Now,
		Extra:          map[string]http.Handler{"GET /metrics": promhttp.HandlerFor(reg, promhttp.HandlerOpts{})},
		UI:             pages,
		RekeyDeps:      api.RekeyDeps{Rekey: rotator},
		CredUpdateDeps: api.CredUpdateDeps{CredUpdate: credupdate.New(svc, sealer, rp, cfg.NodeID), Origin: issuer}}
	if kt := spnego.KeytabPath(cfg.Kerberos.Keytab); kt != "" {
		keytab, err := spnego.OpenKeytab(kt, logger, 0)
		if err != nil {
			n.stop()
			return nil, fmt.Errorf("kerberos: %w", err)
		}
		n.keytab = keytab
		srv.SPNEGODeps = api.SPNEGODeps{MapNameRealms: cfg.Kerberos.MapNameRealms, SPNEGO: &spnego.Acceptor{
			Keytab: keytab, Realms: cfg.Kerberos.Realms, ServicePrincipals: cfg.Kerberos.ServicePrincipals,
			Log: logger, Now: time.Now, Replay: guard.ClaimOnce}}
		logger.Info("kerberos logins on", "keytab", kt, "realms", cfg.Kerberos.Realms)
	}
	// Cross-origin protection for every state-changing request a browser
	// makes (Sec-Fetch-Site / Origin); API clients send neither and pass.
	cop := http.NewCrossOriginProtection()
	w := &wiring{cfg: cfg, log: logger, fsm: f, cluster: cn, svc: svc, sealer: sealer, signer: signer, engine: engine,
		guard: guard, srv: srv, pages: pages, audit: audit, reg: reg, issuer: issuer, cop: cop}
	for _, wire := range []func(*wiring) error{n.wireOAuth2, n.wireOAuth2Admin, n.wireSSO} {
		if err := wire(w); err != nil {
			n.stop()
			return nil, err
		}
	}
	cn.HandleRPC(api.RPCAuthStep, srv.StepHandler())
	apiHandler := cop.Handler(srv.Handler())
	cn.HandleRPC(api.RPCAPI+"/", srv.ForwardedHandler(apiHandler))
	cert, err := tls.LoadX509KeyPair(cfg.API.TLSCert, cfg.API.TLSKey)
	if err != nil {
		n.stop()
		return nil, fmt.Errorf("api tls: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		n.stop()
		return nil, fmt.Errorf("api listen: %w", err)
	}
	n.http = &http.Server{Handler: apiHandler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog:  slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}}
	go func() {
		if err := n.http.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("api server stopped", "error", err)
		}
	}()
	logger.Info("serving", "api", apiURL, "cluster", cfg.Cluster.Listen, "gossip", cfg.Cluster.GossipListen)
	return n, nil
}

// leaderDuties runs what only the leader does: initialising a new cluster.
func (n *node) leaderDuties() {
	for isLeader := range n.cluster.LeaderCh() {
		if isLeader && n.fsm.Initialized() {
			go n.badlistDuty()
			go n.keyRotationDuty()
		}
		for isLeader && !n.fsm.Initialized() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := n.svc.InitSystem(ctx, n.cfg.Domain, n.sealer)
			cancel()
			if err == nil {
				n.log.Info("cluster initialised", "domain", n.cfg.Domain)
				go n.badlistDuty()
				go n.keyRotationDuty()
				break
			}
			n.log.Warn("initialising the cluster failed; retrying", "error", err)
			time.Sleep(time.Second)
			isLeader = n.cluster.IsLeader()
		}
	}
}

// badlistDuty stores the default badlist on a cluster that has none yet
// (retried while this node leads: a new cluster's first leader may change).
func (n *node) badlistDuty() {
	for range 30 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := n.appendDefaultBadlist(ctx)
		cancel()
		if err == nil || !n.cluster.IsLeader() {
			return
		}
		n.log.Warn("storing the default badlist failed; retrying", "error", err)
		time.Sleep(time.Second)
	}
}

func (n *node) stop() {
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n.http.Shutdown(ctx)
		cancel()
	}
	// After the requests: a login finishing during shutdown still tells
	// the peers about its failure.
	if n.guard != nil {
		n.guard.Close()
	}
	if n.keytab != nil {
		n.keytab.Close()
	}
	if err := n.cluster.Shutdown(); err != nil {
		n.log.Warn("cluster shutdown", "error", err)
	}
	n.fsm.Close()
}

type recoverRequest struct {
	Name string `json:"name"`
}

type recoverResponse struct {
	Password string `json:"password,omitempty"`
	Error    string `json:"error,omitempty"`
}

// handleRecover serves recover-account on the cluster channel: reaching it
// takes a node certificate of this cluster, i.e. access to a server.
func (n *node) handleRecover(w http.ResponseWriter, r *http.Request) {
	var req recoverRequest
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(recoverResponse{Error: "malformed request"})
		return
	}
	pw, err := n.svc.RecoverAccount(r.Context(), req.Name)
	if err != nil {
		e := idm.AsError(err)
		w.WriteHeader(e.Status)
		json.NewEncoder(w).Encode(recoverResponse{Error: e.Msg})
		return
	}
	n.log.Info("account recovered", "name", req.Name)
	json.NewEncoder(w).Encode(recoverResponse{Password: pw})
}

func recoverAccountCommand() *cli.Command {
	return &cli.Command{
		Name:      "recover-account",
		Usage:     "set a fresh random password for admin or idm_admin and print it",
		ArgsUsage: "admin|idm_admin",
		Description: "Run on a server node: it uses the node's configuration and cluster certificate to reach\n" +
			"the node over the cluster channel. The new password is the last line of the output.",
		Flags: opsFlags(),
		Action: opsAction(func(ctx context.Context, c *cli.Context, cl *cluster.Client) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: gatehouse recover-account --config FILE admin|idm_admin", 2)
			}
			body, _ := json.Marshal(recoverRequest{Name: c.Args().First()})
			var out recoverResponse
			for {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+cl.Addr+"/rpc/recover-account", bytes.NewReader(body))
				if err != nil {
					return err
				}
				resp, err := cl.HTTP.Do(req)
				if err != nil {
					return fmt.Errorf("reach the node at %s: %w", cl.Addr, err)
				}
				out = recoverResponse{}
				json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				// A node that has just started may not be initialised yet.
				if resp.StatusCode == http.StatusServiceUnavailable && ctx.Err() == nil {
					time.Sleep(500 * time.Millisecond)
					continue
				}
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("recover-account: %s (HTTP %d)", out.Error, resp.StatusCode)
				}
				break
			}
			fmt.Fprintf(c.App.Writer, "new password for %s:\n%s\n", c.Args().First(), out.Password)
			return nil
		}),
	}
}
