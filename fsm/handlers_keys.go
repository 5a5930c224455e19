package fsm

import (
	"encoding/json"
	"slices"
)

// KeyRemove is the body of key.remove v1: retire a signing key whose
// tokens can no longer be valid. Proposed by the leader's key-rotation
// duty (cmd/gatehouse/server_keys.go), never by an account.
type KeyRemove struct {
	KID string `json:"kid"`
}

// NewestKey is the key of alg with the latest Created (ties: the larger
// kid). It depends on the keys' contents only, never on the order they are
// listed in, so every node and the apply path agree on it.
func NewestKey(keys []SigningKey, alg string) (SigningKey, bool) {
	var best SigningKey
	found := false
	for _, k := range keys {
		if k.Alg != alg {
			continue
		}
		if !found || k.Created > best.Created || (k.Created == best.Created && (k.Added > best.Added || (k.Added == best.Added && k.KID > best.KID))) {
			best, found = k, true
		}
	}
	return best, found
}

func applyKeyRemove(a *applyCtx) (any, *ApplyError) {
	// Like key.add: only the cluster itself changes the key set, so that
	// no account can make the JWKS forget a key that still signs tokens.
	if a.cmd.Actor != "" {
		return nil, Errf(CodeDenied, "only the cluster itself removes signing keys")
	}
	var b KeyRemove
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if b.KID == "" {
		return nil, Errf(CodeInvalid, "key.remove needs a kid")
	}
	bucket := a.tx.Bucket(bKeys)
	raw := bucket.Get([]byte(b.KID))
	if raw == nil {
		return nil, Errf(CodeNotFound, "no signing key %s", b.KID)
	}
	// Read the keys from the transaction, not the cache: a key added
	// earlier in the same batch is not in the cache yet.
	var keys []SigningKey
	err := bucket.ForEach(func(k, v []byte) error {
		var key SigningKey
		if err := json.Unmarshal(v, &key); err != nil {
			return err
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return nil, Errf(CodeInvalid, "read signing keys: %v", err)
	}
	var target SigningKey
	if err := json.Unmarshal(raw, &target); err != nil {
		return nil, Errf(CodeInvalid, "decode key %s: %v", b.KID, err)
	}
	if active, _ := NewestKey(keys, target.Alg); active.KID == b.KID {
		return nil, Errf(CodeConflict, "key %s is the active %s key: add a newer one first", b.KID, target.Alg)
	}
	if err := bucket.Delete([]byte(b.KID)); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	a.after(func(c *cache) {
		c.keys = slices.DeleteFunc(c.keys, func(k SigningKey) bool { return k.KID == b.KID })
	})
	return nil, nil
}
