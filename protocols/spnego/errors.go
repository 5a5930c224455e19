package spnego

import "fmt"

// Reason classifies a refused Negotiate attempt; it is also the error code
// the HTTP API answers.
type Reason string

const (
	// ReasonMalformed: the header or a token in it does not parse.
	ReasonMalformed Reason = "krb_malformed"
	// ReasonNotKerberos: the client offered no Kerberos token.
	ReasonNotKerberos Reason = "krb_not_kerberos"
	// ReasonWrongRealm: the client's realm is not among the accepted ones.
	ReasonWrongRealm Reason = "krb_wrong_realm"
	// ReasonWrongService: the ticket is for a service this server is not.
	ReasonWrongService Reason = "krb_wrong_service"
	// ReasonClockSkew: the client's clock (or the ticket's start) is too
	// far from ours.
	ReasonClockSkew Reason = "krb_clock_skew"
	// ReasonExpired: the service ticket has expired.
	ReasonExpired Reason = "krb_ticket_expired"
	// ReasonIntegrity: the ticket or authenticator does not decrypt or
	// verify: tampered with, or made for a key this server no longer (or
	// not yet) holds.
	ReasonIntegrity Reason = "krb_integrity"
	// ReasonReplay: this authenticator was already used.
	ReasonReplay Reason = "krb_replay"
	// ReasonUnavailable: Kerberos is not configured on this node.
	ReasonUnavailable Reason = "krb_unavailable"
)

// Error is a refused Negotiate attempt. Msg is a sentence for the response
// body and the log; it never holds key material.
type Error struct {
	Reason Reason
	Msg    string
	// Continue, when set, is a base64 SPNEGO token to send back in
	// "WWW-Authenticate: Negotiate <Continue>": the exchange goes on
	// (the client offered Kerberos, but not first).
	Continue string
}

func (e *Error) Error() string { return e.Msg }

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Msg: fmt.Sprintf(format, args...)}
}
