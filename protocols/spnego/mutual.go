package spnego

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	gspnego "github.com/jcmturner/gokrb5/v8/spnego"
)

// mutual reports whether the client asked for mutual authentication: the
// GSS checksum's mutual flag (RFC 4121 4.1.1) or the AP option.
func (t *Token) mutual() bool {
	if flagSet(t.APReq.APOptions, flags.APOptionMutualRequired) {
		return true
	}
	ck := t.APReq.Authenticator.Cksum
	if ck.CksumType != chksumtype.GSSAPI || len(ck.Checksum) < 24 {
		return false
	}
	return binary.LittleEndian.Uint32(ck.Checksum[20:24])&gssapi.ContextFlagMutual != 0
}

func flagSet(b asn1.BitString, f int) bool {
	return f < b.BitLength && b.At(f) == 1
}

// mutualToken builds the AP-REP that proves to the client that we hold the
// service key (RFC 4120 3.2.4): the authenticator's time, sealed with the
// ticket's session key, wrapped like the client's token was.
func mutualToken(t *Token, req *messages.APReq) (string, error) {
	var seq [4]byte
	rand.Read(seq[:])
	part := messages.EncAPRepPart{
		CTime:          req.Authenticator.CTime,
		Cusec:          req.Authenticator.Cusec,
		SequenceNumber: int64(binary.BigEndian.Uint32(seq[:]) & 0x3fffffff),
	}
	b, err := asn1.Marshal(part)
	if err != nil {
		return "", err
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(b, req.Ticket.DecryptedEncPart.Key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return "", err
	}
	rep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
	if err != nil {
		return "", err
	}
	rep = asn1tools.AddASNAppTag(rep, asnAppTag.APREP)
	mech := t.Mech
	if len(mech) == 0 {
		mech = gssapi.OIDKRB5.OID()
	}
	oid, err := asn1.Marshal(mech)
	if err != nil {
		return "", err
	}
	krb := append(oid, 0x02, 0x00) // TOK_ID of an AP-REP
	krb = asn1tools.AddASNAppTag(append(krb, rep...), 0)
	if !t.SPNEGO {
		return base64.StdEncoding.EncodeToString(krb), nil
	}
	// The second leg's answer names no mechanism: the first answer did.
	resp := gspnego.NegTokenResp{NegState: asn1.Enumerated(gspnego.NegStateAcceptCompleted), SupportedMech: t.Selected, ResponseToken: krb}
	out, err := resp.Marshal()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// claim takes the replay key through the Replay hook, or in this process.
func (a *Acceptor) claim(ctx context.Context, key string, ttl time.Duration) bool {
	if a.Replay != nil {
		return a.Replay(ctx, key, ttl)
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.local == nil {
		a.local = map[string]time.Time{}
	}
	if exp, ok := a.local[key]; ok && now.Before(exp) {
		return false
	}
	if len(a.local) > 4096 {
		for k, exp := range a.local {
			if !now.Before(exp) {
				delete(a.local, k)
			}
		}
	}
	a.local[key] = now.Add(ttl)
	return true
}
