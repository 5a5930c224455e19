package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
)

// EnvelopeVersion is the version of the envelope encoding itself.
const EnvelopeVersion = 1

// MaxCommandSize caps one encoded command; larger proposals are refused
// before they reach the log.
const MaxCommandSize = 1 << 20

// Command is what the log carries. The proposing node fills in everything
// that needs a clock, a random source or work (RequestID, Time, generated
// ids, hashes, sealed keys); Apply only validates and stores.
type Command struct {
	// Envelope format version.
	V int `json:"v"`
	// Type selects the handler, e.g. "entry.create".
	Type string `json:"type"`
	// TypeVersion is the version of Body's encoding for this Type.
	TypeVersion int `json:"tv"`
	// Optional marks a command that a node which does not know Type may
	// skip. Any other unknown command stops the node rather than diverge.
	Optional bool `json:"opt,omitempty"`
	// RequestID makes retries safe: the FSM remembers recent ids and answers
	// a repeat with the first result instead of applying it twice.
	RequestID string `json:"rid"`
	// Time is the proposer's clock in Unix milliseconds.
	Time int64 `json:"ts"`
	// Actor is the uuid of the account on whose behalf the command runs
	// (empty for the system itself); kept for the audit trail.
	Actor string          `json:"actor,omitempty"`
	Body  json.RawMessage `json:"body"`
}

// NewCommand builds a command with body encoded as JSON.
func NewCommand(typ string, typeVersion int, requestID string, timeMillis int64, body any) (Command, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Command{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	return Command{V: EnvelopeVersion, Type: typ, TypeVersion: typeVersion, RequestID: requestID, Time: timeMillis, Body: b}, nil
}

// Encode returns the bytes proposed to Raft.
func (c Command) Encode() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode command %s: %w", c.Type, err)
	}
	if len(b) > MaxCommandSize {
		return nil, fmt.Errorf("command %s is %d bytes, more than the %d allowed", c.Type, len(b), MaxCommandSize)
	}
	return b, nil
}

// DecodeCommand parses and checks an envelope. It never panics on any input.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if len(b) > MaxCommandSize {
		return c, fmt.Errorf("command is %d bytes, more than the %d allowed", len(b), MaxCommandSize)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("decode command: %w", err)
	}
	if c.V != EnvelopeVersion {
		return c, fmt.Errorf("decode command: envelope version %d not supported", c.V)
	}
	if c.Type == "" {
		return c, errors.New("decode command: no type")
	}
	if c.RequestID == "" {
		return c, errors.New("decode command: no request id")
	}
	return c, nil
}

// Error codes an apply can return. They map onto HTTP statuses in the API.
const (
	CodeInvalid  = "invalid"   // 400
	CodeNotFound = "not_found" // 404
	CodeConflict = "conflict"  // 409: duplicate name, version mismatch
	CodeDenied   = "denied"    // 403
)

// ApplyError is a refusal by a handler: the state is unchanged.
type ApplyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *ApplyError) Error() string { return e.Message }

// Errf builds an ApplyError.
func Errf(code, format string, args ...any) *ApplyError {
	return &ApplyError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Result is what Apply returns for one command, as seen by the proposer
// (also across the cluster channel, hence JSON tags).
type Result struct {
	// Index is the Raft index at which the command was applied.
	Index uint64 `json:"index"`
	// Err is set when the handler refused the command.
	Err *ApplyError `json:"error,omitempty"`
	// Value is handler-specific output (e.g. the stored entry).
	Value json.RawMessage `json:"value,omitempty"`
}
