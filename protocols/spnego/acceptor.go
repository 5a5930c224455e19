package spnego

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	gspnego "github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

const (
	// DefaultMaxSkew is the clock skew Kerberos tolerates by default.
	DefaultMaxSkew = 5 * time.Minute
	// MaxHeader bounds the Authorization header: a ticket with a large
	// Windows PAC stays well under it.
	MaxHeader = 64 << 10
)

// Acceptor verifies Negotiate headers against a keytab.
type Acceptor struct {
	Keytab *Keytab
	// Realms are the accepted client realms; empty accepts any realm.
	Realms []string
	// ServicePrincipals are the accepted service names ("HTTP/host" or
	// "HTTP/host@REALM"); empty accepts any principal of the keytab.
	ServicePrincipals []string
	Log               *slog.Logger
	Now               func() time.Time
	// Replay claims key for ttl cluster-wide; false means some node (this
	// one included) has claimed it already. Nil keeps claims in this
	// process only.
	Replay func(ctx context.Context, key string, ttl time.Duration) bool
	// MaxSkew is the tolerated clock skew (DefaultMaxSkew when 0).
	MaxSkew time.Duration

	mu    sync.Mutex
	local map[string]time.Time
}

// Result is an accepted login.
type Result struct {
	// Principal is the client, "name@REALM" (name may have components:
	// "a/b@REALM").
	Principal string
	Realm     string
	// Service is the principal the ticket was for, "HTTP/host@REALM".
	Service string
	// Mutual is the base64 token for "WWW-Authenticate: Negotiate
	// <Mutual>" when the client asked for mutual authentication, else "".
	Mutual string
	// TicketEnd is when the client's service ticket expires.
	TicketEnd time.Time
}

func (a *Acceptor) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Acceptor) skew() time.Duration {
	if a.MaxSkew > 0 {
		return a.MaxSkew
	}
	return DefaultMaxSkew
}

// Accept verifies an "Authorization: Negotiate <token>" header value. It
// returns a *Error for every refusal.
func (a *Acceptor) Accept(ctx context.Context, header string) (res Result, err error) {
	defer func() {
		// gokrb5's decoders index into what they parsed; hostile input
		// must cost a refusal, never the process.
		if r := recover(); r != nil {
			res, err = Result{}, fail(ReasonMalformed, "the Kerberos token is malformed")
		}
	}()
	if a == nil || a.Keytab == nil || a.Keytab.Keys() == nil {
		return Result{}, fail(ReasonUnavailable, "Kerberos is not configured on this server")
	}
	raw, err := ParseHeader(header)
	if err != nil {
		return Result{}, err
	}
	tok, err := ParseToken(raw)
	if err != nil {
		return Result{}, err
	}
	res, err = a.verify(ctx, &tok.APReq)
	if err != nil {
		return Result{}, err
	}
	if tok.mutual() {
		m, err := mutualToken(tok, &tok.APReq)
		if err != nil {
			return Result{}, fail(ReasonMalformed, "cannot build the mutual-authentication answer: %v", err)
		}
		res.Mutual = m
	}
	return res, nil
}

// ParseHeader returns the token of an "Authorization: Negotiate <base64>"
// header value.
func ParseHeader(header string) ([]byte, error) {
	if len(header) > MaxHeader {
		return nil, fail(ReasonMalformed, "the Authorization header is larger than %d bytes", MaxHeader)
	}
	scheme, b64, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Negotiate") {
		return nil, fail(ReasonNotKerberos, "the Authorization header is not \"Negotiate <token>\"")
	}
	b64 = strings.TrimSpace(b64)
	if b64 == "" {
		return nil, fail(ReasonMalformed, "the Negotiate header carries no token")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return nil, fail(ReasonMalformed, "the Negotiate token is not base64")
		}
	}
	return raw, nil
}

// Token is a parsed Negotiate token holding a Kerberos AP-REQ.
type Token struct {
	APReq messages.APReq
	// SPNEGO: the AP-REQ came wrapped in SPNEGO (else a bare Kerberos GSS
	// token); Mech is the OID of the Kerberos token itself.
	SPNEGO bool
	Mech   asn1.ObjectIdentifier
	// Selected is the SPNEGO mechanism the answer names (supportedMech):
	// the Kerberos OID the client listed first (Windows lists Microsoft's
	// legacy Kerberos OID and expects it back).
	Selected asn1.ObjectIdentifier
}

func isKRB5(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(gssapi.OIDKRB5.OID()) || oid.Equal(gssapi.OIDMSLegacyKRB5.OID())
}

// incomplete is SPNEGO's "accept-incomplete, use this mechanism" answer.
func incomplete(mech asn1.ObjectIdentifier) string {
	t := gspnego.NegTokenResp{NegState: asn1.Enumerated(gspnego.NegStateAcceptIncomplete), SupportedMech: mech}
	b, err := t.Marshal()
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ParseToken parses a Negotiate token: an SPNEGO NegTokenInit or
// NegTokenResp around a Kerberos AP-REQ, or a bare Kerberos GSS token.
func ParseToken(raw []byte) (*Token, error) {
	if len(raw) == 0 {
		return nil, fail(ReasonMalformed, "the Negotiate token is empty")
	}
	if raw[0] == 0x60 { // [APPLICATION 0]: a GSS initial context token
		var oid asn1.ObjectIdentifier
		if _, err := asn1.UnmarshalWithParams(raw, &oid, "application,explicit,tag:0"); err != nil {
			return nil, fail(ReasonMalformed, "the Negotiate token is not a GSS-API token: %v", err)
		}
		if isKRB5(oid) {
			return parseKRB5(raw, false)
		}
		if !oid.Equal(gssapi.OIDSPNEGO.OID()) {
			return nil, fail(ReasonNotKerberos, "the Negotiate token is for mechanism %s, not SPNEGO or Kerberos", oid)
		}
	}
	if raw[0] == 0xa1 {
		// The second leg after our accept-incomplete: the AP-REQ is the
		// whole proof, so no state from the first leg is needed.
		tok, err := parseResp(raw)
		if err != nil {
			return nil, fail(ReasonMalformed, "the SPNEGO continuation does not parse: %v", err)
		}
		if len(tok) == 0 {
			return nil, fail(ReasonMalformed, "the SPNEGO continuation carries no mechanism token")
		}
		return parseKRB5(tok, true)
	}
	var st gspnego.SPNEGOToken
	if err := unmarshalSafe(&st, raw); err != nil || !st.Init {
		return nil, fail(ReasonMalformed, "the SPNEGO token does not parse: %v", err)
	}
	init := st.NegTokenInit
	if len(init.MechTypes) == 0 {
		return nil, fail(ReasonMalformed, "the SPNEGO token lists no mechanism")
	}
	if !isKRB5(init.MechTypes[0]) || len(init.MechTokenBytes) == 0 {
		if i := slices.IndexFunc(init.MechTypes, isKRB5); i >= 0 {
			return nil, &Error{Reason: ReasonNotKerberos, Continue: incomplete(init.MechTypes[i]),
				Msg: fmt.Sprintf("the client offered %s first; this server accepts Kerberos only: send the Kerberos token", init.MechTypes[0])}
		}
		return nil, fail(ReasonNotKerberos, "the client offered no Kerberos mechanism (first: %s; NTLM is not accepted); get a Kerberos ticket (kinit)", init.MechTypes[0])
	}
	tok, err := parseKRB5(init.MechTokenBytes, true)
	if err != nil {
		return nil, err
	}
	tok.Selected = init.MechTypes[0]
	return tok, nil
}

// negTokenResp is SPNEGO's NegTokenResp with every field optional, as RFC
// 4178 has it: a client's continuation carries no negState, which gokrb5's
// own type requires.
type negTokenResp struct {
	NegState      asn1.Enumerated       `asn1:"explicit,optional,tag:0"`
	SupportedMech asn1.ObjectIdentifier `asn1:"explicit,optional,tag:1"`
	ResponseToken []byte                `asn1:"explicit,optional,omitempty,tag:2"`
	MechListMIC   []byte                `asn1:"explicit,optional,omitempty,tag:3"`
}

// parseResp returns the mechanism token of a NegTokenResp ([1] SEQUENCE).
func parseResp(b []byte) (tok []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid encoding (%v)", r)
		}
	}()
	var outer asn1.RawValue
	rest, err := asn1.Unmarshal(b, &outer)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 || outer.Class != asn1.ClassContextSpecific || outer.Tag != 1 {
		return nil, fmt.Errorf("not a NegTokenResp")
	}
	var r negTokenResp
	if _, err := asn1.Unmarshal(outer.Bytes, &r); err != nil {
		return nil, err
	}
	return r.ResponseToken, nil
}

// unmarshalSafe runs gokrb5's parser, turning a panic on hostile input into
// an error.
func unmarshalSafe(st interface{ Unmarshal([]byte) error }, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid encoding (%v)", r)
		}
	}()
	return st.Unmarshal(b)
}

func parseKRB5(b []byte, wrapped bool) (*Token, error) {
	var mt gspnego.KRB5Token
	if err := unmarshalSafe(&mt, b); err != nil {
		return nil, fail(ReasonMalformed, "the Kerberos token does not parse: %v", err)
	}
	if !mt.IsAPReq() {
		return nil, fail(ReasonMalformed, "the Kerberos token is not an AP-REQ")
	}
	return &Token{APReq: mt.APReq, SPNEGO: wrapped, Mech: mt.OID}, nil
}

// verify checks an AP-REQ like gokrb5's APReq.Verify does, with our clock,
// our realm and service lists and a typed reason for each failure.
func (a *Acceptor) verify(ctx context.Context, req *messages.APReq) (Result, error) {
	tkt := &req.Ticket
	sname := tkt.SName.PrincipalNameString()
	service := sname + "@" + tkt.Realm
	if len(a.ServicePrincipals) > 0 && !slices.Contains(a.ServicePrincipals, sname) && !slices.Contains(a.ServicePrincipals, service) {
		return Result{}, fail(ReasonWrongService, "the ticket is for %s, a service this server does not accept (accepted: %s)", service, strings.Join(a.ServicePrincipals, ", "))
	}
	kt := a.Keytab.Keys()
	key, _, err := kt.GetEncryptionKey(tkt.SName, tkt.Realm, tkt.EncPart.KVNO, tkt.EncPart.EType)
	if err != nil {
		if !holds(kt, tkt.SName, tkt.Realm) {
			return Result{}, fail(ReasonWrongService, "the ticket is for %s, and this server holds no key for it", service)
		}
		return Result{}, fail(ReasonIntegrity, "the ticket for %s is sealed with key version %d (enctype %d), which this server's keytab does not hold: the keytab is out of date", service, tkt.EncPart.KVNO, tkt.EncPart.EType)
	}
	if err := tkt.Decrypt(key); err != nil {
		return Result{}, fail(ReasonIntegrity, "the ticket for %s does not decrypt: it was tampered with, or the keytab holds an old key", service)
	}
	enc := &tkt.DecryptedEncPart
	now, skew := a.now().UTC(), a.skew()
	if types.IsFlagSet(&enc.Flags, flags.Invalid) {
		return Result{}, fail(ReasonExpired, "the ticket is flagged invalid (postdated and not validated)")
	}
	start := enc.StartTime
	if start.IsZero() {
		start = enc.AuthTime
	}
	if start.Sub(now) > skew {
		return Result{}, fail(ReasonClockSkew, "the ticket is not valid before %s; this server's time is %s (clock skew above %v?)", start.Format(time.RFC3339), now.Format(time.RFC3339), skew)
	}
	if now.Sub(enc.EndTime) > skew {
		return Result{}, fail(ReasonExpired, "the ticket expired at %s; get a new one (kinit)", enc.EndTime.Format(time.RFC3339))
	}
	if err := decryptAuthenticator(req, enc.Key); err != nil {
		return Result{}, fail(ReasonIntegrity, "the authenticator does not decrypt with the ticket's session key: the token was tampered with")
	}
	auth := &req.Authenticator
	if !auth.CName.Equal(enc.CName) || auth.CRealm != enc.CRealm {
		return Result{}, fail(ReasonIntegrity, "the authenticator names another client than the ticket")
	}
	realm := enc.CRealm
	principal := enc.CName.PrincipalNameString() + "@" + realm
	if len(a.Realms) > 0 && !slices.Contains(a.Realms, realm) {
		return Result{}, fail(ReasonWrongRealm, "principal %s is from realm %s, which this server does not accept (accepted: %s)", principal, realm, strings.Join(a.Realms, ", "))
	}
	ct := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > skew || -d > skew {
		return Result{}, fail(ReasonClockSkew, "the client's clock differs from this server's by %v, more than the %v allowed; fix the clocks (NTP)", d.Round(time.Second), skew)
	}
	// An authenticator is accepted while its time is within the skew of
	// ours, so its claim must last until ct + skew (at most 2 × skew).
	ttl := ct.Add(skew).Sub(now) + time.Second
	rkey := fmt.Sprintf("krb:%s|%d.%06d|%s", principal, auth.CTime.Unix(), auth.Cusec, service)
	if !a.claim(ctx, rkey, ttl) {
		return Result{}, fail(ReasonReplay, "this Kerberos token was already used (replay); the client must make a new one")
	}
	return Result{Principal: principal, Realm: realm, Service: service, TicketEnd: enc.EndTime}, nil
}

func decryptAuthenticator(req *messages.APReq, key types.EncryptionKey) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid authenticator (%v)", r)
		}
	}()
	return req.DecryptAuthenticator(key)
}

// holds reports whether the keytab has any key of a principal.
func holds(kt *keytab.Keytab, sname types.PrincipalName, realm string) bool {
	for _, e := range kt.Entries {
		if e.Principal.Realm == realm && slices.Equal(e.Principal.Components, sname.NameString) {
			return true
		}
	}
	return false
}
