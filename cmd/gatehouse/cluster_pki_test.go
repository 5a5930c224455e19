package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/gatehouse-idm/gatehouse/ops/pki"
)

func TestClusterInitAndCertCommands(t *testing.T) {
	dir := t.TempDir()
	app := &cli.App{Name: "gatehouse", Writer: io.Discard, Commands: []*cli.Command{{Name: "cluster", Subcommands: clusterPKICommands()}}}
	ca := filepath.Join(dir, "ca")
	if err := app.Run([]string{"gatehouse", "cluster", "init", ca}); err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "n1.pem")
	if err := app.Run([]string{"gatehouse", "cluster", "cert", "--ca-dir", ca, "--node-id", "n1", "--host", "localhost",
		"--host", "127.0.0.1", "--days", "30", "--out-cert", cert, "--out-key", filepath.Join(dir, "n1.key")}); err != nil {
		t.Fatal(err)
	}
	c, err := pki.LoadCertificate(cert)
	if err != nil || c.Subject.CommonName != "n1" || len(c.IPAddresses) != 1 {
		t.Fatalf("issued cert: %v %+v", err, c)
	}
	if err := app.Run([]string{"gatehouse", "cluster", "init", ca}); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("second init = %v, want a refusal", err)
	}
}
