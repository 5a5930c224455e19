package fsm

import (
	"encoding/json"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// applyCtx is what a handler sees: the batch transaction, the log index
// (which becomes the version of every record it writes) and the command.
type applyCtx struct {
	tx      *bolt.Tx
	index   uint64
	cmd     Command
	pending []func(*cache)
}

// after queues a cache update to run once the transaction has committed.
func (a *applyCtx) after(fn func(*cache)) { a.pending = append(a.pending, fn) }

// decode reads the body strictly: a body this version does not describe is a
// bug in the proposer, not something to half-apply.
func (a *applyCtx) decode(v any) *ApplyError {
	if err := json.Unmarshal(a.cmd.Body, v); err != nil {
		return Errf(CodeInvalid, "decode %s body: %v", a.cmd.Type, err)
	}
	return nil
}

// handler is the one shape every command handler has: decode, validate
// against the current state, write, queue cache updates, return a value.
type handler func(a *applyCtx) (any, *ApplyError)

func handlerKey(typ string, version int) string { return typ + "/v" + strconv.Itoa(version) }

// Command types. A new body encoding gets a new version and a new table row;
// the old row stays so that old logs replay.
const (
	TypeSystemInit        = "system.init"
	TypeEntryCreate       = "entry.create"
	TypeEntryUpdate       = "entry.update"
	TypeEntryDelete       = "entry.delete"
	TypeDeniedNamesAppend = "denied_names.append"
	TypeDeniedNamesRemove = "denied_names.remove"
	TypeKeyAdd            = "key.add"
	TypeNoop              = "noop"
	TypeSessionRecord     = "session.record"
	TypeSessionRevoke     = "session.revoke"
	TypeResetTokenCreate  = "reset_token.create"
	TypeCredentialCommit  = "credential.commit"
	TypeGroupPolicy       = "group.policy"
	TypeBadlistAppend     = "badlist.append"

	// Signing-key retirement (handlers_keys.go).
	TypeKeyRemove = "key.remove"
	// OAuth2 provider (handlers_oauth2.go).
	TypeOAuth2Consent       = "oauth2.consent"
	TypeOAuth2Refresh       = "oauth2.refresh"
	TypeOAuth2DeviceCreate  = "oauth2.device.create"
	TypeOAuth2DeviceDecide  = "oauth2.device.decide"
	TypeOAuth2DeviceConsume = "oauth2.device.consume"
	// Upstream SSO (handlers_sso.go).
	TypeSSOProviderPut    = "sso.provider.put"
	TypeSSOProviderDelete = "sso.provider.delete"
	TypeSSOSettings       = "sso.settings"
	// Encryption-key rotation (handlers_seal.go).
	TypeSealRotate = "seal.rotate"
)

func newHandlerTable() map[string]handler {
	return map[string]handler{
		handlerKey(TypeSystemInit, 1):          applySystemInit,
		handlerKey(TypeEntryCreate, 1):         applyEntryCreate,
		handlerKey(TypeEntryUpdate, 1):         applyEntryUpdate,
		handlerKey(TypeEntryDelete, 1):         applyEntryDelete,
		handlerKey(TypeDeniedNamesAppend, 1):   applyDeniedAppend,
		handlerKey(TypeDeniedNamesRemove, 1):   applyDeniedRemove,
		handlerKey(TypeKeyAdd, 1):              applyKeyAdd,
		handlerKey(TypeSessionRecord, 1):       applySessionRecord,
		handlerKey(TypeSessionRevoke, 1):       applySessionRevoke,
		handlerKey(TypeResetTokenCreate, 1):    applyResetTokenCreate,
		handlerKey(TypeCredentialCommit, 1):    applyCredentialCommit,
		handlerKey(TypeGroupPolicy, 1):         applyGroupPolicy,
		handlerKey(TypeBadlistAppend, 1):       applyBadlistAppend,
		handlerKey(TypeKeyRemove, 1):           applyKeyRemove,
		handlerKey(TypeOAuth2Consent, 1):       applyOAuth2Consent,
		handlerKey(TypeOAuth2Refresh, 1):       applyOAuth2Refresh,
		handlerKey(TypeOAuth2DeviceCreate, 1):  applyOAuth2DeviceCreate,
		handlerKey(TypeOAuth2DeviceDecide, 1):  applyOAuth2DeviceDecide,
		handlerKey(TypeOAuth2DeviceConsume, 1): applyOAuth2DeviceConsume,
		handlerKey(TypeSSOProviderPut, 1):      applySSOProviderPut,
		handlerKey(TypeSSOProviderDelete, 1):   applySSOProviderDelete,
		handlerKey(TypeSSOSettings, 1):         applySSOSettings,
		handlerKey(TypeSealRotate, 1):          applySealRotate,
		handlerKey(TypeNoop, 1):                func(*applyCtx) (any, *ApplyError) { return nil, nil },
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Handlers return plain structs; failing to encode one is a
		// programming error that tests catch.
		panic(fmt.Sprintf("encode result: %v", err))
	}
	return b
}
