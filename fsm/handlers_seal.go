package fsm

import (
	"bytes"
	"crypto/sha256"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// Kinds of sealed values in the state, as named by seal.rotate.
const (
	SealedSigningKey   = "signing_key"   // ID = kid
	SealedTOTP         = "totp"          // ID = entry uuid, Sub = totp id
	SealedOAuth2Secret = "oauth2_secret" // ID = client entry uuid
	SealedSSOSecret    = "sso_secret"    // ID = provider uuid, Sub = field
)

// SealedValue is one sealed secret held in the state.
type SealedValue struct {
	Kind  string
	ID    string
	Sub   string
	Value []byte
}

// ResealItem replaces one sealed value, if it is still the value the
// proposer read (OldSum = SHA-256 of it): a value changed meanwhile was
// sealed afresh by its writer, and the rotation looks at it again.
type ResealItem struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Sub    string `json:"sub,omitempty"`
	OldSum []byte `json:"old_sum"`
	New    []byte `json:"new"`
}

// SealRotate is the body of seal.rotate v1: values re-sealed under a new
// cluster encryption key. Apply sees only ciphertexts; it swaps bytes.
type SealRotate struct {
	Items []ResealItem `json:"items"`
}

// MaxResealItems bounds one seal.rotate command.
const MaxResealItems = 256

// Reseal wraps an old value and its replacement into an item.
func Reseal(v SealedValue, newValue []byte) ResealItem {
	sum := sha256.Sum256(v.Value)
	return ResealItem{Kind: v.Kind, ID: v.ID, Sub: v.Sub, OldSum: sum[:], New: newValue}
}

func sameSum(v, sum []byte) bool {
	s := sha256.Sum256(v)
	return bytes.Equal(s[:], sum)
}

func applySealRotate(a *applyCtx) (any, *ApplyError) {
	var b SealRotate
	if err := a.decode(&b); err != nil {
		return nil, err
	}
	if err := a.maySystem(); err != nil {
		return nil, err
	}
	if len(b.Items) == 0 || len(b.Items) > MaxResealItems {
		return nil, Errf(CodeInvalid, "a seal.rotate holds 1 to %d items", MaxResealItems)
	}
	for _, it := range b.Items {
		if len(it.New) == 0 || len(it.OldSum) != sha256.Size {
			return nil, Errf(CodeInvalid, "a re-sealed item needs the old value's SHA-256 and a new value")
		}
		switch it.Kind {
		case SealedSigningKey, SealedTOTP, SealedOAuth2Secret, SealedSSOSecret:
		default:
			return nil, Errf(CodeInvalid, "unknown sealed value kind %q", it.Kind)
		}
	}
	// Every item is checked and written in turn; a refusal of the whole
	// command is only for malformed bodies, so skipping a stale item
	// (its value changed since it was read) is not an error.
	replaced := 0
	entries := map[string]*entry.Entry{}
	olds := map[string]*entry.Entry{}
	for _, it := range b.Items {
		switch it.Kind {
		case SealedSigningKey:
			var k SigningKey
			ok, err := getJSON(a.tx.Bucket(bKeys), it.ID, &k)
			if err != nil {
				return nil, Errf(CodeInvalid, "%v", err)
			}
			if !ok || !sameSum(k.SealedPrivate, it.OldSum) {
				continue
			}
			k.SealedPrivate = it.New
			if err := putJSON(a.tx.Bucket(bKeys), k.KID, k); err != nil {
				return nil, Errf(CodeInvalid, "%v", err)
			}
			a.after(func(c *cache) {
				for i := range c.keys {
					if c.keys[i].KID == k.KID {
						c.keys[i] = k
					}
				}
			})
			replaced++
		case SealedTOTP, SealedOAuth2Secret:
			e := entries[it.ID]
			if e == nil {
				old, err := a.getEntry(it.ID)
				if err != nil {
					return nil, err
				}
				if old == nil {
					continue
				}
				olds[it.ID], e = old, old.Clone()
				entries[it.ID] = e
			}
			if it.Kind == SealedOAuth2Secret {
				if e.OAuth2 == nil || !sameSum(e.OAuth2.SealedSecret, it.OldSum) {
					continue
				}
				e.OAuth2.SealedSecret = it.New
				replaced++
				continue
			}
			for i := range e.TOTP {
				if e.TOTP[i].ID == it.Sub && sameSum(e.TOTP[i].SealedSecret, it.OldSum) {
					e.TOTP[i].SealedSecret = it.New
					replaced++
				}
			}
		case SealedSSOSecret:
			ok, err := a.resealSSO(it)
			if err != nil {
				return nil, err
			}
			if ok {
				replaced++
			}
		}
	}
	// Entries are written once each, in the order of the items, so the
	// result does not depend on map iteration.
	done := map[string]bool{}
	for _, it := range b.Items {
		e := entries[it.ID]
		if e == nil || done[it.ID] {
			continue
		}
		done[it.ID] = true
		if err := a.putEntry(e, olds[it.ID]); err != nil {
			return nil, err
		}
	}
	return map[string]int{"replaced": replaced}, nil
}

// SealedValues lists every sealed secret in the state (for re-sealing).
func (f *FSM) SealedValues() []SealedValue {
	var out []SealedValue
	for _, k := range f.SigningKeys() {
		out = append(out, SealedValue{Kind: SealedSigningKey, ID: k.KID, Value: k.SealedPrivate})
	}
	c := f.state.Load()
	c.mu.RLock()
	for _, e := range c.byUUID {
		for _, t := range e.TOTP {
			out = append(out, SealedValue{Kind: SealedTOTP, ID: e.UUID, Sub: t.ID, Value: bytes.Clone(t.SealedSecret)})
		}
		if e.OAuth2 != nil && len(e.OAuth2.SealedSecret) > 0 {
			out = append(out, SealedValue{Kind: SealedOAuth2Secret, ID: e.UUID, Value: bytes.Clone(e.OAuth2.SealedSecret)})
		}
	}
	c.mu.RUnlock()
	return append(out, f.sealedSSOValues()...)
}
