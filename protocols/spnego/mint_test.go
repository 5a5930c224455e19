package spnego

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
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

// The tests play the KDC: they hold the service key (a keytab made in
// process), seal service tickets with it (messages.NewTicket) and build
// the client's AP-REQ, so every path of the acceptor runs without a KDC.

const (
	realm   = "EXAMPLE.COM"
	svc     = "HTTP/localhost"
	svcPass = "fuzz-service-password" // deterministic key: the fuzz seeds decrypt with it
)

var oidNTLM = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}

// serviceKeytab holds HTTP/localhost@EXAMPLE.COM at the given key versions
// (password svcPass+kvno beyond the first, so versions differ).
func serviceKeytab(t testing.TB, kvnos ...uint8) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	for _, v := range kvnos {
		pw := svcPass
		if v > 1 {
			pw += string(rune('0' + v))
		}
		if err := kt.AddEntry(svc, realm, pw, time.Unix(1_700_000_000+int64(v), 0), v, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
			t.Fatal(err)
		}
	}
	return kt
}

type mintOpts struct {
	cname, crealm string
	sname         string // default svc
	kvno          int    // default 1
	kt            *keytab.Keytab
	at            time.Time               // the authenticator's time (default now)
	start, end    time.Time               // ticket validity (default at-1m, at+10h)
	mutual        bool                    // ask for mutual authentication
	raw           bool                    // a bare Kerberos token, no SPNEGO
	mechs         []asn1.ObjectIdentifier // NegTokenInit mech list (default krb5)
	resp          bool                    // send as a NegTokenResp (second leg)
	tamperTicket  bool
	tamperAuth    bool
}

// mint returns the bytes of a Negotiate token and the ticket's session key.
func mint(t testing.TB, o mintOpts) ([]byte, types.EncryptionKey) {
	t.Helper()
	if o.cname == "" {
		o.cname = "alice"
	}
	if o.crealm == "" {
		o.crealm = realm
	}
	if o.sname == "" {
		o.sname = svc
	}
	if o.kvno == 0 {
		o.kvno = 1
	}
	if o.at.IsZero() {
		o.at = time.Now()
	}
	if o.start.IsZero() {
		o.start = o.at.Add(-time.Minute)
	}
	if o.end.IsZero() {
		o.end = o.at.Add(10 * time.Hour)
	}
	if o.kt == nil {
		o.kt = serviceKeytab(t, uint8(o.kvno))
	}
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, o.cname)
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, o.sname)
	fl := asn1.BitString{Bytes: make([]byte, 4), BitLength: 32}
	tkt, key, err := messages.NewTicket(cname, o.crealm, sname, realm, fl, o.kt, etypeID.AES256_CTS_HMAC_SHA1_96, o.kvno, o.start, o.start, o.end, o.end)
	if err != nil {
		t.Fatal(err)
	}
	if o.tamperTicket {
		tkt.EncPart.Cipher[len(tkt.EncPart.Cipher)/2] ^= 1
	}
	auth, err := types.NewAuthenticator(o.crealm, cname)
	if err != nil {
		t.Fatal(err)
	}
	at := o.at.UTC()
	auth.CTime, auth.Cusec = at.Truncate(time.Second), at.Nanosecond()/1000
	ck := make([]byte, 24)
	binary.LittleEndian.PutUint32(ck, 16)
	gf := uint32(gssapi.ContextFlagInteg | gssapi.ContextFlagConf)
	if o.mutual {
		gf |= gssapi.ContextFlagMutual
	}
	binary.LittleEndian.PutUint32(ck[20:], gf)
	auth.Cksum = types.Checksum{CksumType: 32771, Checksum: ck}
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	if o.tamperAuth {
		req.EncryptedAuthenticator.Cipher[len(req.EncryptedAuthenticator.Cipher)/2] ^= 1
	}
	rb, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	krb := asn1tools.AddASNAppTag(append(append(oid, 0x01, 0x00), rb...), 0)
	if o.raw {
		return krb, key
	}
	if o.resp {
		// As a client sends it: no negState, no supportedMech.
		b, err := asn1.Marshal(negTokenResp{ResponseToken: krb})
		if err != nil {
			t.Fatal(err)
		}
		b, err = asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: b})
		if err != nil {
			t.Fatal(err)
		}
		return b, key
	}
	if o.mechs == nil {
		o.mechs = []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}
	}
	st := gspnego.SPNEGOToken{Init: true, NegTokenInit: gspnego.NegTokenInit{MechTypes: o.mechs, MechTokenBytes: krb}}
	b, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b, key
}

func header(b []byte) string { return "Negotiate " + base64.StdEncoding.EncodeToString(b) }
