package fsm

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/hashicorp/raft"
)

// oauth2World: an initialised log with carol (a person) and app (a client).
func oauth2World(t *testing.T, b *logBuilder) (logs []*raft.Log, carol, app string) {
	carol, app = "55555555-5555-4555-8555-555555555555", "77777777-7777-4777-8777-777777777777"
	logs = append(logs, initLog(b),
		b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: &entry.Entry{UUID: carol, Class: entry.Person, Name: "carol"}}),
		b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: &entry.Entry{UUID: app, Class: entry.OAuth2Client, Name: "app",
			OAuth2: &entry.OAuth2Settings{Origin: "https://app.example.com", SealedSecret: []byte{1}}}}))
	return logs, carol, app
}

func TestRefreshReuseRevokesTheFamilyOnEveryNode(t *testing.T) {
	b := &logBuilder{t: t}
	logs, carol, app := oauth2World(t, b)
	exp := int64(3600 * 1000)
	use := func(gen uint64) *raft.Log {
		return b.logAs(carol, TypeOAuth2Refresh, OAuth2Refresh{Family: "n1.fam", Generation: gen, Account: carol, Client: app, Expires: exp})
	}
	logs = append(logs, use(0), use(1), use(1), use(2))
	// Two nodes apply the same log, one in a single batch.
	f1, f2 := openTest(t), openTest(t)
	var results []Result
	for _, l := range logs {
		results = append(results, f1.ApplyBatch([]*raft.Log{l})[0].(Result))
	}
	f2.ApplyBatch(logs)
	for i, res := range results[:5] {
		if res.Err != nil {
			t.Fatalf("log %d refused: %v", i, res.Err)
		}
	}
	var r OAuth2RefreshResult
	if json.Unmarshal(results[4].Value, &r); r.Reused {
		t.Fatal("a first use of generation 1 counted as reuse")
	}
	if json.Unmarshal(results[5].Value, &r); !r.Reused {
		t.Fatalf("the second use of generation 1 was not detected: %s", results[5].Value)
	}
	// After reuse the family is revoked: even the next generation is refused.
	if results[6].Err == nil || results[6].Err.Code != CodeDenied {
		t.Fatalf("use after reuse: %+v", results[6])
	}
	for _, f := range []*FSM{f1, f2} {
		if !f.IsRevoked("n1.fam") {
			t.Fatal("the family is not revoked")
		}
		if fam, ok := f.OAuth2FamilyOf("n1.fam"); !ok || !fam.Revoked || fam.Next != 2 {
			t.Fatalf("family: %+v %v", fam, ok)
		}
	}
	var d1, d2 bytes.Buffer
	f1.Dump(&d1)
	f2.Dump(&d2)
	if !bytes.Equal(d1.Bytes(), d2.Bytes()) {
		t.Fatal("two nodes applying the same log differ")
	}
}

func TestConsentAndDeviceGrant(t *testing.T) {
	b := &logBuilder{t: t}
	logs, carol, app := oauth2World(t, b)
	f := openTest(t)
	for _, l := range logs {
		applyOK(t, f, l)
	}
	// Consent: only the account itself, scopes sorted.
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeOAuth2Consent, OAuth2Consent{Account: carol, Client: app, Scopes: []string{"openid"}}), CodeDenied)
	applyErr(t, f, b.logAs(carol, TypeOAuth2Consent, OAuth2Consent{Account: carol, Client: app, Scopes: []string{"profile", "openid"}}), CodeInvalid)
	applyOK(t, f, b.logAs(carol, TypeOAuth2Consent, OAuth2Consent{Account: carol, Client: app, Scopes: []string{"openid", "profile"}}))
	if c, ok := f.OAuth2ConsentOf(carol, app); !ok || strings.Join(c.Scopes, " ") != "openid profile" {
		t.Fatalf("consent: %+v %v", c, ok)
	}
	// Device grant: created by the provider, decided by carol, consumed once.
	h := strings.Repeat("ab", 32)
	now := int64(b.index+1) * 1000
	dev := OAuth2Device{Hash: h, UserCode: "ABCD-EFGH", Client: app, Scopes: []string{"openid"}, Created: now, Expires: now + 600000, State: DevicePending}
	applyErr(t, f, b.logAs(carol, TypeOAuth2DeviceCreate, OAuth2DeviceCreate{Device: dev}), CodeDenied)
	applyOK(t, f, b.logAs("", TypeOAuth2DeviceCreate, OAuth2DeviceCreate{Device: dev}))
	applyErr(t, f, b.logAs("", TypeOAuth2DeviceConsume, OAuth2DeviceConsume{Hash: h}), CodeNotFound) // pending
	applyOK(t, f, b.logAs(carol, TypeOAuth2DeviceDecide, OAuth2DeviceDecide{UserCode: "ABCD-EFGH", Account: carol, Approve: true, Granted: []string{"openid"}}))
	applyErr(t, f, b.logAs(carol, TypeOAuth2DeviceDecide, OAuth2DeviceDecide{UserCode: "ABCD-EFGH", Account: carol}), CodeNotFound)
	res := applyOK(t, f, b.logAs("", TypeOAuth2DeviceConsume, OAuth2DeviceConsume{Hash: h}))
	var got OAuth2Device
	if json.Unmarshal(res.Value, &got); got.State != DeviceApproved || got.Account != carol {
		t.Fatalf("consumed grant: %s", res.Value)
	}
	applyErr(t, f, b.logAs("", TypeOAuth2DeviceConsume, OAuth2DeviceConsume{Hash: h}), CodeNotFound)
}
