package main

import (
	"log/slog"
	"net/http"

	"github.com/gatehouse-idm/gatehouse/cluster"
	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/config"
	"github.com/gatehouse-idm/gatehouse/ops/logging"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/gatehouse-idm/gatehouse/protocols/api"
	"github.com/gatehouse-idm/gatehouse/protocols/ui"
	"github.com/prometheus/client_golang/prometheus"
)

// wiring is what a protocol room needs to plug itself into a node: its
// routes go into srv.Extra (patterns of http.ServeMux), its cluster RPCs
// into cluster.HandleRPC, and cross-site POSTs it must accept (a SAML
// IdP's form post) into cop as bypass patterns.
type wiring struct {
	cfg     *config.Config
	log     *slog.Logger
	fsm     *fsm.FSM
	cluster *cluster.Node
	svc     *idm.Service
	sealer  *seal.Sealer
	signer  *token.Signer
	engine  *auth.Engine
	guard   *authguard.Guard
	srv     *api.Server
	pages   *ui.Handler
	audit   *logging.Audit
	reg     *prometheus.Registry
	issuer  string
	cop     *http.CrossOriginProtection
}
