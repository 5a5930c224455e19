package auth

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"

	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
)

var errNoRP = errors.New("webauthn is not configured on this node")

// usable narrows an account's passkeys to those the mechanism accepts:
// attested_passkey takes only passkeys whose attestation met the policy.
func usable(a *entry.Entry, mech string) *entry.Entry {
	if mech == entry.MechAttestedPasskey {
		a.Passkeys = slices.DeleteFunc(a.Passkeys, func(w entry.WebAuthn) bool { return !w.Attested })
	}
	return a
}

// beginWebAuthn starts the ceremony of a WebAuthn factor; its state stays
// in the in-flight login, on this node.
func (e *Engine) beginWebAuthn(s *inflight, factor string) (json.RawMessage, []byte, error) {
	if e.RP == nil {
		return nil, nil, errNoRP
	}
	if s.usernameless {
		return e.RP.BeginDiscoverableLogin()
	}
	a, ok := e.account(s)
	if !ok {
		// The account went away during the login.
		return nil, nil, ErrBadStep
	}
	if factor == FactorSecurityKey {
		return e.RP.BeginLogin(a, fido.SecurityKey)
	}
	return e.RP.BeginLogin(usable(a, s.mech), fido.Passkey)
}

// securityKey checks the second factor of passwordsecuritykey.
func (e *Engine) securityKey(ctx context.Context, s *inflight, response json.RawMessage) (verdict, error) {
	return e.namedWebAuthn(ctx, s, fido.SecurityKey, response)
}

// passkey checks a passkey, by name or usernameless.
func (e *Engine) passkey(ctx context.Context, s *inflight, response json.RawMessage) (verdict, error) {
	if s.usernameless {
		return e.discoverable(s, response)
	}
	return e.namedWebAuthn(ctx, s, fido.Passkey, response)
}

func (e *Engine) namedWebAuthn(ctx context.Context, s *inflight, kind fido.Kind, response json.RawMessage) (verdict, error) {
	if e.RP == nil {
		return 0, errNoRP
	}
	a, ok := e.account(s)
	if !ok {
		return wrong, nil
	}
	key := authguard.Key(a.UUID, authguard.FactorWebAuthn)
	g := e.guard()
	release, l := g.Begin(key, a.SoftlockReset)
	if l {
		return locked, nil
	}
	defer release()
	if kind == fido.Passkey {
		a = usable(a, s.mech)
	}
	if _, err := e.RP.FinishLogin(a, kind, s.waState, response); err != nil {
		e.log().Info("webauthn login refused", "account", a.UUID, "error", err)
		g.Fail(ctx, key)
		return wrong, nil
	}
	g.Succeed(key)
	return passed, nil
}

// discoverable finishes a usernameless passkey login: the credential's user
// handle names the account, which must still be allowed a passkey login.
func (e *Engine) discoverable(s *inflight, response json.RawMessage) (verdict, error) {
	if e.RP == nil {
		return 0, errNoRP
	}
	a, credID, err := e.RP.FinishDiscoverableLogin(s.waState, response, func(h []byte) (*entry.Entry, bool) {
		id, ok := handleUUID(h)
		if !ok {
			return nil, false
		}
		a, ok := e.State.Entry(id)
		if !ok || a.Class == entry.Group {
			return nil, false
		}
		return a, true
	})
	if err != nil {
		e.log().Info("usernameless passkey login refused", "error", err)
		return wrong, nil
	}
	s.account = a.UUID
	key := authguard.Key(a.UUID, authguard.FactorWebAuthn)
	release, l := e.guard().Begin(key, a.SoftlockReset)
	if l {
		return locked, nil
	}
	defer release()
	i := slices.IndexFunc(a.Passkeys, func(w entry.WebAuthn) bool { return w.ID == credID })
	if i < 0 {
		return wrong, nil
	}
	// The session names the strongest mechanism this passkey proves that
	// the account's policy allows.
	cands := []string{entry.MechPasskey}
	if a.Passkeys[i].Attested {
		cands = []string{entry.MechAttestedPasskey, entry.MechPasskey}
	}
	allowed, _ := e.allowed(a)
	for _, m := range cands {
		if slices.Contains(allowed, m) {
			s.mech = m
			e.guard().Succeed(key)
			return passed, nil
		}
	}
	return wrong, nil
}

// handleUUID reads a WebAuthn user handle: the 16 bytes of the account's
// uuid (or, leniently, its text form).
func handleUUID(h []byte) (string, bool) {
	if len(h) == 36 && entry.LooksLikeUUID(string(h)) {
		return string(h), true
	}
	if len(h) != 16 {
		return "", false
	}
	x := hex.EncodeToString(h)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:], true
}
