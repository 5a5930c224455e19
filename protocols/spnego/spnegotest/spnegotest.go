// Package spnegotest mints Kerberos Negotiate tokens for tests without a
// KDC: the test plays the KDC, holding the service key in a keytab made in
// process and sealing service tickets with it (gokrb5's messages.NewTicket),
// then builds the client's AP-REQ the way a GSS-API client does.
package spnegotest

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	gspnego "github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

const (
	Realm   = "EXAMPLE.COM"
	Service = "HTTP/localhost"
	// password derives the service key deterministically, so tokens
	// minted once (fuzz seeds) decrypt with a keytab made later.
	password = "fuzz-service-password"
)

// OIDNTLM is the NTLMSSP mechanism, for offers that are not Kerberos.
var OIDNTLM = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}

// Keytab holds Service@Realm at each key version given (aes256-cts), the
// same keys every time.
func Keytab(kvnos ...uint8) (*keytab.Keytab, error) {
	kt := keytab.New()
	for _, v := range kvnos {
		if err := AddKey(kt, Service, v); err != nil {
			return nil, err
		}
	}
	return kt, nil
}

// AddKey adds a deterministic key of version kvno for service@Realm.
func AddKey(kt *keytab.Keytab, service string, kvno uint8) error {
	pw := password
	if kvno > 1 || service != Service {
		pw = fmt.Sprintf("%s-%s-%d", password, service, kvno)
	}
	return kt.AddEntry(service, Realm, pw, time.Unix(1_700_000_000+int64(kvno), 0), kvno, etypeID.AES256_CTS_HMAC_SHA1_96)
}

// Options shape a minted token; zero values give a valid SPNEGO token for
// alice@Realm to Service at key version 1, made now.
type Options struct {
	CName, CRealm string
	SName         string // service name (default Service)
	KVNO          int
	Keytab        *keytab.Keytab // the "KDC's" copy of the service key (default Keytab(KVNO))
	At            time.Time      // the authenticator's time
	Start, End    time.Time      // ticket validity (default At-1m .. At+10h)
	Mutual        bool           // ask for mutual authentication
	Raw           bool           // a bare Kerberos GSS token, no SPNEGO
	Resp          bool           // a NegTokenResp (the second leg), as a client sends it
	Mechs         []asn1.ObjectIdentifier
	TamperTicket  bool
	TamperAuth    bool
}

// Mint returns the token bytes and the ticket's session key.
func Mint(o Options) ([]byte, types.EncryptionKey, error) {
	var none types.EncryptionKey
	if o.CName == "" {
		o.CName = "alice"
	}
	if o.CRealm == "" {
		o.CRealm = Realm
	}
	if o.SName == "" {
		o.SName = Service
	}
	if o.KVNO == 0 {
		o.KVNO = 1
	}
	if o.At.IsZero() {
		o.At = time.Now()
	}
	if o.Start.IsZero() {
		o.Start = o.At.Add(-time.Minute)
	}
	if o.End.IsZero() {
		o.End = o.At.Add(10 * time.Hour)
	}
	if o.Keytab == nil {
		kt, err := Keytab(uint8(o.KVNO))
		if err != nil {
			return nil, none, err
		}
		o.Keytab = kt
	}
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, o.CName)
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, o.SName)
	fl := asn1.BitString{Bytes: make([]byte, 4), BitLength: 32}
	tkt, key, err := messages.NewTicket(cname, o.CRealm, sname, Realm, fl, o.Keytab, etypeID.AES256_CTS_HMAC_SHA1_96, o.KVNO, o.Start, o.Start, o.End, o.End)
	if err != nil {
		return nil, none, err
	}
	if o.TamperTicket {
		tkt.EncPart.Cipher[len(tkt.EncPart.Cipher)/2] ^= 1
	}
	auth, err := types.NewAuthenticator(o.CRealm, cname)
	if err != nil {
		return nil, none, err
	}
	at := o.At.UTC()
	auth.CTime, auth.Cusec = at.Truncate(time.Second), at.Nanosecond()/1000
	// RFC 4121 4.1.1 checksum: length 16, no channel bindings, flags.
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck, 16)
	gf := uint32(gssapi.ContextFlagInteg | gssapi.ContextFlagConf)
	if o.Mutual {
		gf |= gssapi.ContextFlagMutual
	}
	binary.LittleEndian.PutUint32(ck[20:], gf)
	auth.Cksum = types.Checksum{CksumType: 32771, Checksum: ck}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		return nil, none, err
	}
	if o.TamperAuth {
		req.EncryptedAuthenticator.Cipher[len(req.EncryptedAuthenticator.Cipher)/2] ^= 1
	}
	rb, err := req.Marshal()
	if err != nil {
		return nil, none, err
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	krb := asn1tools.AddASNAppTag(append(append(oid, 0x01, 0x00), rb...), 0)
	if o.Raw {
		return krb, key, nil
	}
	if o.Resp {
		// No negState, no supportedMech: what a client's continuation holds.
		b, err := asn1.Marshal(struct {
			ResponseToken []byte `asn1:"explicit,optional,omitempty,tag:2"`
		}{krb})
		if err != nil {
			return nil, none, err
		}
		b, err = asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: b})
		return b, key, err
	}
	if o.Mechs == nil {
		o.Mechs = []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}
	}
	st := gspnego.SPNEGOToken{Init: true, NegTokenInit: gspnego.NegTokenInit{MechTypes: o.Mechs, MechTokenBytes: krb}}
	b, err := st.Marshal()
	return b, key, err
}

// Header is the Authorization header value carrying a token.
func Header(b []byte) string { return "Negotiate " + base64.StdEncoding.EncodeToString(b) }
