package integration

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/ops/config"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// TestRotateEncryptionKey rotates the cluster encryption key on a running
// three-node cluster: the CLI answers, every sealed value in the state is
// re-sealed under the new key, the old key is gone from the key file, a
// node restarted afterwards opens its signing key with the new file, and
// logins keep working on every node throughout.
func TestRotateEncryptionKey(t *testing.T) {
	c := NewCluster(t, 3)
	c.StartAll()
	c.WaitHealthy()
	keyFile := filepath.Join(c.PKI, "encryption.key")
	before, err := config.LoadKeyring(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	admin, pw := c.Admin(c.Nodes[1], "admin")
	// A non-admin session is refused before anything changes.
	idmAdmin, _ := c.Admin(c.Nodes[0], "idm_admin")
	if _, err := idmAdmin.RotateEncryptionKey(context.Background()); err == nil {
		t.Fatal("idm_admin rotated the encryption key; only system_admins may")
	}
	rep, err := admin.RotateEncryptionKey(context.Background())
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if !rep.Retired || rep.Nodes != 3 || rep.Reseal.Replaced < 1 || rep.Warning != "" {
		t.Fatalf("rotation report %+v: want 3 nodes, at least the signing key re-sealed, old key retired", rep)
	}
	after, err := config.LoadKeyring(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || seal.IDOf(after[0]) == seal.IDOf(before[0]) || seal.IDOf(after[0]).String() != rep.KeyID {
		t.Fatalf("key file after rotation holds %d keys (first %s), want only the new key %s", len(after), seal.IDOf(after[0]), rep.KeyID)
	}
	// Logins sign with the re-sealed key on every node.
	for _, nd := range c.Nodes {
		cl := c.Login(nd, "admin", pw)
		if _, err := cl.Self(context.Background()); err != nil {
			t.Fatalf("session at %s after rotation: %v", nd.ID, err)
		}
	}
	// The stored signing key opens with the new key only.
	n3 := c.Nodes[2]
	n3.Stop()
	stateDB := filepath.Join(n3.DataDir(), "state.db")
	signingKey(t, stateDB, keyFile) // fails the test if the new key cannot open it
	old, err := seal.New(before[0])
	if err != nil {
		t.Fatal(err)
	}
	if sealedKeyOpens(t, stateDB, old) {
		t.Fatal("the old encryption key still opens the signing key after the rotation")
	}
	n3.Start()
	c.WaitHealthy()
	cl := c.Login(n3, "admin", pw)
	if _, err := cl.Self(context.Background()); err != nil {
		t.Fatalf("session at restarted %s: %v", n3.ID, err)
	}
}

// sealedKeyOpens reports whether s opens any signing key of a stopped
// node's state.db.
func sealedKeyOpens(t *testing.T, stateDB string, s *seal.Sealer) bool {
	t.Helper()
	db, err := bolt.Open(stateDB, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", stateDB, err)
	}
	defer db.Close()
	opened := false
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("keys")).ForEach(func(k, v []byte) error {
			var sk fsm.SigningKey
			if err := json.Unmarshal(v, &sk); err != nil {
				return err
			}
			if _, err := s.Open(sk.SealedPrivate, []byte("signing-key:"+sk.KID)); err == nil {
				opened = true
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return opened
}
