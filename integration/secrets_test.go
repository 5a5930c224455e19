package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/ops/config"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	bolt "go.etcd.io/bbolt"
)

// needle is a secret in every encoding it could be stored in.
type needle struct {
	name  string
	forms map[string][]byte
}

func newNeedle(name string, raw []byte) needle {
	n := needle{name: name, forms: map[string][]byte{"raw": raw}}
	std := base64.StdEncoding.EncodeToString(raw)
	n.forms["base64"] = []byte(std)
	// Without padding, so the form also matches inside a longer encoding
	// that happens to be aligned with it.
	n.forms["base64-nopad"] = []byte(base64.RawStdEncoding.EncodeToString(raw))
	n.forms["base64url"] = []byte(base64.RawURLEncoding.EncodeToString(raw))
	return n
}

// findIn reports, per file, which forms of n occur in it.
func findIn(t *testing.T, files []string, n needle) map[string][]string {
	t.Helper()
	hits := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for form, v := range n.forms {
			if bytes.Contains(b, v) {
				hits[f] = append(hits[f], form)
			}
		}
	}
	return hits
}

// filesUnder lists the regular files below dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signingKey opens a stopped node's state.db read-only and unseals its
// signing key with the cluster encryption key.
func signingKey(t *testing.T, stateDB, encKeyFile string) *ecdsa.PrivateKey {
	t.Helper()
	db, err := bolt.Open(stateDB, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", stateDB, err)
	}
	defer db.Close()
	var keys []fsm.SigningKey
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("keys"))
		if b == nil {
			return fmt.Errorf("no bucket keys in %s", stateDB)
		}
		return b.ForEach(func(k, v []byte) error {
			var sk fsm.SigningKey
			if err := json.Unmarshal(v, &sk); err != nil {
				return fmt.Errorf("key %s: %w", k, err)
			}
			keys = append(keys, sk)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("want one signing key in %s, found %d", stateDB, len(keys))
	}
	k := keys[0]
	enc, err := config.LoadEncryptionKey(encKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(enc)
	if err != nil {
		t.Fatal(err)
	}
	der, err := s.Open(k.SealedPrivate, []byte("signing-key:"+k.KID))
	if err != nil {
		t.Fatalf("unseal signing key %s: %v", k.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("signing key %s is not PKCS#8: %v", k.KID, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("signing key %s is a %T", k.KID, parsed)
	}
	return priv
}

func TestNoSecretIsStoredInClearInLogsStateOrSnapshots(t *testing.T) {
	c := NewCluster(t, 3)
	// Snapshot often, keep the whole log: both the log and the snapshots
	// then hold the system.init command with the sealed signing key.
	c.ClusterExtra = "snapshot_threshold = 8\nsnapshot_interval_ms = 300\n"
	c.StartAll()
	c.WaitHealthy()
	ctx := context.Background()
	idm, _ := c.Admin(c.Nodes[0], "idm_admin")
	admin, _ := c.Admin(c.Nodes[1], "admin")

	const password = "Secret-Tulip-Orbit-4471"
	for i := 0; i < 6; i++ {
		if _, err := idm.CreatePerson(ctx, fmt.Sprintf("p%d", i), "P", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := idm.SetPassword(ctx, "p0", password); err != nil {
		t.Fatal(err)
	}
	if _, err := idm.CreateGroup(ctx, "team", "", []string{"p0", "p1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AppendDeniedNames(ctx, "secretive"); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.Nodes {
		p0 := c.Login(nd, "p0", password)
		if _, err := p0.Self(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Every node has taken a Raft snapshot of its own.
	for _, nd := range c.Nodes {
		Eventually(t, 20*time.Second, nd.ID+" writes a snapshot", func() bool {
			m, _ := filepath.Glob(filepath.Join(nd.DataDir(), "snapshots", "*", "state.bin"))
			return len(m) > 0
		})
	}
	saved := filepath.Join(c.Dir, "backup.snap")
	if _, err := Gatehouse(t, "", "cluster", "snapshot", "save", "--config", c.Nodes[2].Config, saved); err != nil {
		t.Fatal(err)
	}
	c.StopAll()

	var files []string
	for _, nd := range c.Nodes {
		files = append(files, filesUnder(t, nd.DataDir())...)
	}
	files = append(files, saved)

	priv := signingKey(t, filepath.Join(c.Nodes[0].DataDir(), "state.db"), filepath.Join(c.PKI, "encryption.key"))
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []needle{
		newNeedle("the signing key (PKCS#8 DER)", der),
		newNeedle("the signing key's private scalar D", priv.D.FillBytes(make([]byte, 32))),
		newNeedle("the password", []byte(password)),
	}
	for _, s := range secrets {
		for f, forms := range findIn(t, files, s) {
			t.Errorf("%s is in clear in %s (as %v)", s.name, f, forms)
		}
	}

	// The same search must find what is meant to be public, or it proves
	// nothing: the public key's X coordinate is in every store.
	x := newNeedle("the public key's X", priv.PublicKey.X.FillBytes(make([]byte, 32)))
	hits := findIn(t, files, x)
	want := []string{saved}
	for _, nd := range c.Nodes {
		snaps, _ := filepath.Glob(filepath.Join(nd.DataDir(), "snapshots", "*", "state.bin"))
		want = append(want, filepath.Join(nd.DataDir(), "raft.db"), filepath.Join(nd.DataDir(), "state.db"))
		want = append(want, snaps...)
	}
	for _, f := range want {
		if len(hits[f]) == 0 {
			t.Errorf("the search did not find the public key's X in %s: the check cannot see into that file", f)
		}
	}
	t.Logf("searched %d files; public X found in %d of them", len(files), len(hits))
}
