package credupdate

import (
	"context"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/password"
)

// GeneratedPasswordLen: 32 characters of a 56-letter alphabet, ~185 bits.
const GeneratedPasswordLen = 32

// casRetries bounds how often a generated password is re-proposed after
// another write changed the account in between.
const casRetries = 3

// GeneratePassword gives a service account a fresh server-generated
// password (mechanism generatedpassword) and returns it; it is shown once
// and stored only as an argon2id hash. The actor must be allowed to write
// the account (idm_admins); the log re-checks that.
func (m *Manager) GeneratePassword(ctx context.Context, actor idm.Actor, accountID string) (string, uint64, error) {
	pw, err := password.Generate(GeneratedPasswordLen)
	if err != nil {
		return "", 0, err
	}
	phc, err := m.Svc.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", 0, err
	}
	for attempt := 0; ; attempt++ {
		e, ok := m.Svc.Lookup(accountID)
		if !ok || e.Class != entry.ServiceAccount {
			return "", 0, idm.NotFound("no service account named %q", accountID)
		}
		creds := e.Credentials.Clone()
		creds.PasswordHash, creds.PasswordGenerated = phc, true
		idx, err := m.Svc.CommitCredentials(ctx, actor, e.UUID, e.Version, creds, "")
		if err != nil {
			if ie := idm.AsError(err); ie.Code == "conflict" && attempt < casRetries {
				continue
			}
			return "", 0, err
		}
		return pw, idx, nil
	}
}
