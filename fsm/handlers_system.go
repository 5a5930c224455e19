package fsm

import (
	"encoding/json"
	"slices"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// System is the cluster-wide settings record.
type System struct {
	Domain string `json:"domain"`
	// Initialized is the proposer's time of system.init (Unix ms).
	Initialized int64 `json:"initialized"`
}

// SigningKey is a token-signing key. The private half is sealed with
// AES-256-GCM under the cluster encryption key before it is proposed, so the
// log, the state file and snapshots never hold it in clear.
type SigningKey struct {
	KID           string          `json:"kid"`
	Alg           string          `json:"alg"`
	PublicJWK     json.RawMessage `json:"public_jwk"`
	SealedPrivate []byte          `json:"sealed_private"`
	Created       int64           `json:"created"`
	// Added is the Raft index at which the key was stored (set by Apply):
	// of two keys created in the same millisecond, the later one is newer.
	Added uint64 `json:"added,omitempty"`
}

// SystemInit is the body of system.init v1, proposed once by the first
// leader of a new cluster.
type SystemInit struct {
	Domain      string         `json:"domain"`
	Builtins    []*entry.Entry `json:"builtins"`
	DeniedNames []string       `json:"denied_names"`
	SigningKey  SigningKey     `json:"signing_key"`
}

// DeniedNames is the body of denied_names.append and .remove v1.
type DeniedNames struct {
	Names []string `json:"names"`
}

// KeyAdd is the body of key.add v1.
type KeyAdd struct {
	Key SigningKey `json:"key"`
}

func applySystemInit(a *applyCtx) (any, *ApplyError) {
	var b SystemInit
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if a.cmd.Actor != "" {
		return nil, Errf(CodeDenied, "only the cluster itself initialises the system")
	}
	meta := a.tx.Bucket(bMeta)
	if meta.Get(kSystem) != nil {
		// Two nodes may race to initialise after an election; the first wins.
		return nil, Errf(CodeConflict, "the system is already initialised")
	}
	if b.Domain == "" || b.SigningKey.KID == "" || len(b.SigningKey.SealedPrivate) == 0 {
		return nil, Errf(CodeInvalid, "system.init needs a domain and a sealed signing key")
	}
	for _, e := range b.Builtins {
		if err := e.Validate(); err != nil {
			return nil, Errf(CodeInvalid, "builtin %s: %v", e.Name, err)
		}
	}
	sys := System{Domain: b.Domain, Initialized: a.cmd.Time}
	if err := putJSON(meta, string(kSystem), sys); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	for _, e := range b.Builtins {
		if err := a.putEntry(e.Clone(), nil); err != nil {
			return nil, err
		}
	}
	for _, n := range b.DeniedNames {
		if err := a.tx.Bucket(bDenied).Put([]byte(n), present); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
	}
	b.SigningKey.Added = a.index
	if err := putJSON(a.tx.Bucket(bKeys), b.SigningKey.KID, b.SigningKey); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	names := slices.Clone(b.DeniedNames)
	key := b.SigningKey
	a.after(func(c *cache) {
		c.system = sys
		for _, n := range names {
			c.denied[n] = true
		}
		c.keys = append(c.keys, key)
	})
	return sys, nil
}

func validDeniedNames(a *applyCtx, b *DeniedNames) *ApplyError {
	if err := a.maySystem(); err != nil {
		return err
	}
	if err := a.decode(b); err != nil {
		return err
	}
	if len(b.Names) == 0 {
		return Errf(CodeInvalid, "no names given")
	}
	for _, n := range b.Names {
		if err := entry.ValidateName(n); err != nil {
			return Errf(CodeInvalid, "%v", err)
		}
	}
	return nil
}

func applyDeniedAppend(a *applyCtx) (any, *ApplyError) {
	var b DeniedNames
	if err := validDeniedNames(a, &b); err != nil {
		return nil, err
	}
	for _, n := range b.Names {
		if err := a.tx.Bucket(bDenied).Put([]byte(n), present); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
	}
	a.after(func(c *cache) {
		for _, n := range b.Names {
			c.denied[n] = true
		}
	})
	return nil, nil
}

func applyDeniedRemove(a *applyCtx) (any, *ApplyError) {
	var b DeniedNames
	if err := validDeniedNames(a, &b); err != nil {
		return nil, err
	}
	for _, n := range b.Names {
		if err := a.tx.Bucket(bDenied).Delete([]byte(n)); err != nil {
			return nil, Errf(CodeInvalid, "%v", err)
		}
	}
	a.after(func(c *cache) {
		for _, n := range b.Names {
			delete(c.denied, n)
		}
	})
	return nil, nil
}

func applyKeyAdd(a *applyCtx) (any, *ApplyError) {
	var b KeyAdd
	if a.cmd.Actor != "" {
		return nil, Errf(CodeDenied, "only the cluster itself adds signing keys")
	}
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if b.Key.KID == "" || len(b.Key.SealedPrivate) == 0 {
		return nil, Errf(CodeInvalid, "a key needs a kid and a sealed private key")
	}
	if a.tx.Bucket(bKeys).Get([]byte(b.Key.KID)) != nil {
		return nil, Errf(CodeConflict, "key %s exists", b.Key.KID)
	}
	b.Key.Added = a.index
	if err := putJSON(a.tx.Bucket(bKeys), b.Key.KID, b.Key); err != nil {
		return nil, Errf(CodeInvalid, "%v", err)
	}
	a.after(func(c *cache) { c.keys = append(c.keys, b.Key) })
	return nil, nil
}
