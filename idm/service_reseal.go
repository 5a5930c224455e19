package idm

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// sealedAAD is the aad each kind of sealed value was sealed with.
func sealedAAD(v fsm.SealedValue) ([]byte, error) {
	switch v.Kind {
	case fsm.SealedSigningKey:
		return token.KeyAAD(v.ID), nil
	case fsm.SealedTOTP:
		return entry.TOTPAAD(v.ID, v.Sub), nil
	case fsm.SealedOAuth2Secret:
		return entry.OAuth2SecretAAD(v.ID), nil
	case fsm.SealedSSOSecret:
		return entry.SSOSecretAAD(v.ID, v.Sub), nil
	}
	return nil, fmt.Errorf("unknown sealed value kind %q", v.Kind)
}

// ResealReport says what a re-seal did.
type ResealReport struct {
	Values   int `json:"values"`   // sealed values in the state
	Replaced int `json:"replaced"` // re-sealed under the current key
	Rounds   int `json:"rounds"`
}

// resealRounds bounds how often values written meanwhile are looked at
// again; a value written after the key switch is sealed with the new key
// already, so two rounds normally suffice.
const resealRounds = 5

// Reseal re-seals every sealed value in the state that the sealer's
// current key did not seal (seal.rotate commands, system_admins only).
// A value that cannot be opened stops it: dropping the old key then would
// lose that secret.
func (s *Service) Reseal(ctx context.Context, actor Actor, sealer *seal.Sealer) (ResealReport, error) {
	var rep ResealReport
	if actor != System && !s.IsSystemAdmin(actor) {
		return rep, Forbidden("only members of system_admins may rotate the encryption key")
	}
	cur := sealer.Current()
	for round := 1; round <= resealRounds; round++ {
		rep.Rounds = round
		vals := s.State.SealedValues()
		rep.Values = len(vals)
		var items []fsm.ResealItem
		for _, v := range vals {
			if id, ok := seal.KeyOf(v.Value); ok && id == cur {
				continue
			}
			aad, err := sealedAAD(v)
			if err != nil {
				return rep, err
			}
			plain, err := sealer.Open(v.Value, aad)
			if err != nil {
				return rep, fmt.Errorf("%s %s %s cannot be opened with any key of this node's ring: %w", v.Kind, v.ID, v.Sub, err)
			}
			fresh, err := sealer.Seal(plain, aad)
			clear(plain)
			if err != nil {
				return rep, err
			}
			items = append(items, fsm.Reseal(v, fresh))
		}
		if len(items) == 0 {
			return rep, nil
		}
		for len(items) > 0 {
			n := min(len(items), fsm.MaxResealItems)
			res, err := s.propose(ctx, actor, fsm.TypeSealRotate, fsm.SealRotate{Items: items[:n]})
			if err != nil {
				return rep, err
			}
			var v struct {
				Replaced int `json:"replaced"`
			}
			if len(res.Value) > 0 {
				if err := json.Unmarshal(res.Value, &v); err != nil {
					return rep, err
				}
			}
			rep.Replaced += v.Replaced
			items = items[n:]
		}
	}
	return rep, Unavailable("sealed values kept changing during %d rounds of re-sealing; run the rotation again", resealRounds)
}
