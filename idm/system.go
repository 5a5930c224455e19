package idm

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/idm/token"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/google/uuid"
)

// InitSystem is the first leader's duty in a new cluster: create the
// built-in entries, the default denied names and the first signing key
// (sealed here, so only ciphertext enters the log). It is a no-op when the
// system is initialised; if two leaders race, the FSM keeps the first.
func (s *Service) InitSystem(ctx context.Context, domain string, sealer *seal.Sealer) error {
	if s.State.Initialized() {
		return nil
	}
	now := s.Now()
	key, err := token.GenerateKey(sealer, uuid.NewString(), now)
	if err != nil {
		return err
	}
	body := fsm.SystemInit{Domain: domain, Builtins: entry.Builtins(now.UnixMilli()),
		DeniedNames: entry.DefaultDeniedNames, SigningKey: key}
	_, err = s.propose(ctx, System, fsm.TypeSystemInit, body)
	var e *Error
	if errors.As(err, &e) && e.Code == "conflict" {
		return nil
	}
	return err
}

// RecoverAccount sets a fresh random password on admin or idm_admin and
// returns it. Only reachable through the cluster channel, i.e. by someone
// holding a node's certificate and key.
func (s *Service) RecoverAccount(ctx context.Context, name string) (string, error) {
	if name != "admin" && name != "idm_admin" {
		return "", Invalid("recover-account works for admin and idm_admin, not %q", name)
	}
	if !s.State.Initialized() {
		return "", Unavailable("the cluster is not initialised yet")
	}
	pw, err := password.Generate(24)
	if err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	if _, err := s.SetPassword(ctx, System, name, pw); err != nil {
		return "", err
	}
	return pw, nil
}
