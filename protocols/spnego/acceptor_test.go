package spnego

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	gspnego "github.com/jcmturner/gokrb5/v8/spnego"
)

func acceptor(kt *keytab.Keytab) *Acceptor {
	return &Acceptor{Keytab: StaticKeytab(kt), Realms: []string{realm}, ServicePrincipals: []string{svc}}
}

func wantReason(t *testing.T, err error, r Reason, fragment string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *spnego.Error %s, got %v", r, err)
	}
	if e.Reason != r || !strings.Contains(e.Msg, fragment) {
		t.Fatalf("want %s containing %q, got %s: %s", r, fragment, e.Reason, e.Msg)
	}
}

func TestAValidTokenNamesTheClient(t *testing.T) {
	a := acceptor(serviceKeytab(t, 1))
	for _, o := range []mintOpts{{}, {Raw: true}, {KVNO: 1, CName: "bob"}} {
		b, _ := mint(t, o)
		res, err := a.Accept(context.Background(), header(b))
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		want := "alice@" + realm
		if o.CName != "" {
			want = o.CName + "@" + realm
		}
		if res.Principal != want || res.Realm != realm || res.Service != svc+"@"+realm || res.Mutual != "" {
			t.Fatalf("%+v: got %+v", o, res)
		}
	}
}

func TestMutualAuthenticationAnswersAnAPREPSealedWithTheSessionKey(t *testing.T) {
	for _, raw := range []bool{false, true} {
		b, key := mint(t, mintOpts{Mutual: true, Raw: raw})
		res, err := acceptor(serviceKeytab(t, 1)).Accept(context.Background(), header(b))
		if err != nil {
			t.Fatal(err)
		}
		tb, err := base64.StdEncoding.DecodeString(res.Mutual)
		if err != nil || len(tb) == 0 {
			t.Fatalf("mutual token %q: %v", res.Mutual, err)
		}
		if !raw {
			var st gspnego.SPNEGOToken
			if err := st.Unmarshal(tb); err != nil || !st.Resp || st.NegTokenResp.State() != gspnego.NegStateAcceptCompleted ||
				!st.NegTokenResp.SupportedMech.Equal(gssapi.OIDKRB5.OID()) {
				t.Fatalf("not an accept-completed NegTokenResp: %v %+v", err, st)
			}
			tb = st.NegTokenResp.ResponseToken
		}
		var mt gspnego.KRB5Token
		if err := mt.Unmarshal(tb); err != nil || !mt.IsAPRep() {
			t.Fatalf("not a Kerberos AP-REP token: %v", err)
		}
		plain, err := crypto.DecryptEncPart(mt.APRep.EncPart, key, keyusage.AP_REP_ENCPART)
		if err != nil {
			t.Fatalf("the AP-REP is not sealed with the session key: %v", err)
		}
		var part messages.EncAPRepPart
		if err := part.Unmarshal(plain); err != nil {
			t.Fatal(err)
		}
		// The client checks that the AP-REP echoes its authenticator time.
		orig, _ := ParseToken(b)
		orig.APReq.DecryptAuthenticator(key)
		if !part.CTime.Equal(orig.APReq.Authenticator.CTime) || part.Cusec != orig.APReq.Authenticator.Cusec {
			t.Fatalf("AP-REP time %v.%d, authenticator %v.%d", part.CTime, part.Cusec, orig.APReq.Authenticator.CTime, orig.APReq.Authenticator.Cusec)
		}
	}
}

func TestEveryRefusalHasItsReason(t *testing.T) {
	kt := serviceKeytab(t, 1)
	other := serviceKeytab(t, 1)
	if err := other.AddEntry("HTTP/other", realm, "x", time.Unix(1_700_000_000, 0), 1, 18); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cases := []struct {
		name     string
		opts     mintOpts
		acc      *Acceptor
		reason   Reason
		fragment string
	}{
		{"wrong realm", mintOpts{CRealm: "EVIL.ORG"}, nil, ReasonWrongRealm, "EVIL.ORG"},
		{"another service, key held", mintOpts{SName: "HTTP/other", Keytab: other}, acceptor(other), ReasonWrongService, "HTTP/other@EXAMPLE.COM"},
		{"another service, no key", mintOpts{SName: "HTTP/other", Keytab: other}, &Acceptor{Keytab: StaticKeytab(kt)}, ReasonWrongService, "holds no key"},
		{"stale keytab", mintOpts{KVNO: 2}, nil, ReasonIntegrity, "key version 2"},
		{"tampered ticket", mintOpts{TamperTicket: true}, nil, ReasonIntegrity, "does not decrypt"},
		{"tampered authenticator", mintOpts{TamperAuth: true}, nil, ReasonIntegrity, "authenticator"},
		{"client clock behind", mintOpts{At: now.Add(-10 * time.Minute), Start: now.Add(-time.Hour)}, nil, ReasonClockSkew, "clock"},
		{"client clock ahead", mintOpts{At: now.Add(10 * time.Minute), Start: now.Add(-time.Hour)}, nil, ReasonClockSkew, "differs"},
		{"ticket from the future", mintOpts{Start: now.Add(time.Hour)}, nil, ReasonClockSkew, "not valid before"},
		{"expired ticket", mintOpts{Start: now.Add(-11 * time.Hour), End: now.Add(-time.Hour)}, nil, ReasonExpired, "expired"},
		{"NTLM only", mintOpts{Mechs: []asn1.ObjectIdentifier{oidNTLM}}, nil, ReasonNotKerberos, "no Kerberos"},
	}
	for _, c := range cases {
		acc := c.acc
		if acc == nil {
			acc = acceptor(kt)
		}
		b, _ := mint(t, c.opts)
		_, err := acc.Accept(context.Background(), header(b))
		t.Logf("%s: %v", c.name, err)
		wantReason(t, err, c.reason, c.fragment)
	}
}

func TestMalformedHeadersAreRefusedWithAReason(t *testing.T) {
	a := acceptor(serviceKeytab(t, 1))
	for h, r := range map[string]Reason{
		"":                   ReasonNotKerberos,
		"Basic YWxpY2U6cHc=": ReasonNotKerberos,
		"Negotiate":          ReasonMalformed,
		"Negotiate !!!":      ReasonMalformed,
		"Negotiate " + strings.Repeat("A", MaxHeader): ReasonMalformed,
		"Negotiate YIIBAA==":                          ReasonMalformed,
		"Negotiate oQcwBaADCgEC":                      ReasonMalformed, // a NegTokenResp without a token
		"Negotiate " + base64.StdEncoding.EncodeToString([]byte{0x60, 0x03, 0x06, 0x01, 0x00}): ReasonNotKerberos,
	} {
		_, err := a.Accept(context.Background(), h)
		var e *Error
		if !errors.As(err, &e) || e.Reason != r {
			t.Errorf("%.40q: want %s, got %v", h, r, err)
		}
	}
	if _, err := (&Acceptor{}).Accept(context.Background(), "Negotiate YA=="); err == nil || err.(*Error).Reason != ReasonUnavailable {
		t.Fatalf("no keytab: %v", err)
	}
}

func TestAReplayedTokenIsRefusedAndTheClaimCoversTheSkewWindow(t *testing.T) {
	var keys []string
	var ttls []time.Duration
	claimed := map[string]bool{}
	a := acceptor(serviceKeytab(t, 1))
	a.Replay = func(_ context.Context, key string, ttl time.Duration) bool {
		keys, ttls = append(keys, key), append(ttls, ttl)
		if claimed[key] {
			return false
		}
		claimed[key] = true
		return true
	}
	b, _ := mint(t, mintOpts{})
	if _, err := a.Accept(context.Background(), header(b)); err != nil {
		t.Fatal(err)
	}
	_, err := a.Accept(context.Background(), header(b))
	wantReason(t, err, ReasonReplay, "already used")
	if !strings.HasPrefix(keys[0], "krb:alice@EXAMPLE.COM|") || !strings.HasSuffix(keys[0], "|"+svc+"@"+realm) {
		t.Fatalf("replay key %q", keys[0])
	}
	if ttls[0] < DefaultMaxSkew-time.Minute || ttls[0] > 2*DefaultMaxSkew+time.Second {
		t.Fatalf("replay ttl %v", ttls[0])
	}
	// Without the hook the claims stay in the process.
	local := acceptor(serviceKeytab(t, 1))
	b, _ = mint(t, mintOpts{})
	if _, err := local.Accept(context.Background(), header(b)); err != nil {
		t.Fatal(err)
	}
	_, err = local.Accept(context.Background(), header(b))
	wantReason(t, err, ReasonReplay, "replay")
}

func TestKerberosOfferedSecondContinuesStatelessly(t *testing.T) {
	a := acceptor(serviceKeytab(t, 1))
	b, _ := mint(t, mintOpts{Mechs: []asn1.ObjectIdentifier{oidNTLM, gssapi.OIDKRB5.OID()}})
	_, err := a.Accept(context.Background(), header(b))
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonNotKerberos || e.Continue == "" {
		t.Fatalf("want a continuation, got %v", err)
	}
	cb, _ := base64.StdEncoding.DecodeString(e.Continue)
	var st gspnego.SPNEGOToken
	if err := st.Unmarshal(cb); err != nil || !st.Resp || st.NegTokenResp.State() != gspnego.NegStateAcceptIncomplete ||
		!st.NegTokenResp.SupportedMech.Equal(gssapi.OIDKRB5.OID()) {
		t.Fatalf("continuation is not accept-incomplete/Kerberos: %v %+v", err, st)
	}
	// The second leg goes to another acceptor (another node): nothing of
	// the first leg is needed.
	second, _ := mint(t, mintOpts{Resp: true, Mutual: true})
	res, err := acceptor(serviceKeytab(t, 1)).Accept(context.Background(), header(second))
	if err != nil || res.Principal != "alice@"+realm || res.Mutual == "" {
		t.Fatalf("second leg: %+v %v", res, err)
	}
}

func TestTheAnswerNamesTheKerberosOIDTheClientListedFirst(t *testing.T) {
	legacy := gssapi.OIDMSLegacyKRB5.OID()
	b, _ := mint(t, mintOpts{Mutual: true, Mechs: []asn1.ObjectIdentifier{legacy, gssapi.OIDKRB5.OID()}})
	res, err := acceptor(serviceKeytab(t, 1)).Accept(context.Background(), header(b))
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := base64.StdEncoding.DecodeString(res.Mutual)
	var st gspnego.SPNEGOToken
	if err := st.Unmarshal(tb); err != nil || !st.NegTokenResp.SupportedMech.Equal(legacy) {
		t.Fatalf("supportedMech %v (%v), want %v", st.NegTokenResp.SupportedMech, err, legacy)
	}
}

func TestAnyServicePrincipalOfTheKeytabWhenNoneIsListed(t *testing.T) {
	kt := serviceKeytab(t, 1)
	kt.AddEntry("HTTP/lb.example.com", realm, "lb", time.Unix(1_700_000_000, 0), 3, 18)
	a := &Acceptor{Keytab: StaticKeytab(kt)}
	b, _ := mint(t, mintOpts{SName: "HTTP/lb.example.com", KVNO: 3, Keytab: kt, CRealm: "ANY.ORG"})
	res, err := a.Accept(context.Background(), header(b))
	if err != nil || res.Service != "HTTP/lb.example.com@"+realm || res.Principal != "alice@ANY.ORG" {
		t.Fatalf("%+v %v", res, err)
	}
}
