package idm

import (
	"context"
	"slices"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// AddKerberosPrincipal maps a Kerberos principal to a person. A principal
// maps to one account only; the state machine refuses a second.
func (s *Service) AddKerberosPrincipal(ctx context.Context, actor Actor, personID, principal string) (*entry.Entry, uint64, error) {
	if err := entry.ValidatePrincipal(principal); err != nil {
		return nil, 0, Invalid("%v", err)
	}
	if other, ok := s.State.EntryByPrincipal(principal); ok {
		if p, found := s.Lookup(personID); !found || p.UUID != other.UUID {
			return nil, 0, Conflict("the Kerberos principal %q already belongs to %s", principal, other.Name)
		}
	}
	return s.update(ctx, actor, entry.Person, personID, func(e *entry.Entry) error {
		if !slices.Contains(e.KerberosPrincipals, principal) {
			e.KerberosPrincipals = append(e.KerberosPrincipals, principal)
		}
		return nil
	})
}

// RemoveKerberosPrincipal removes a principal from a person.
func (s *Service) RemoveKerberosPrincipal(ctx context.Context, actor Actor, personID, principal string) (*entry.Entry, uint64, error) {
	return s.update(ctx, actor, entry.Person, personID, func(e *entry.Entry) error {
		i := slices.Index(e.KerberosPrincipals, principal)
		if i < 0 {
			return NotFound("%s has no Kerberos principal %q", e.Name, principal)
		}
		e.KerberosPrincipals = slices.Delete(e.KerberosPrincipals, i, i+1)
		return nil
	})
}
