package fsm

import (
	"bytes"
	"slices"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/hashicorp/raft"
)

const ssoUUID = "77777777-7777-4777-8777-777777777777"

func goldenSSOProvider() *entry.SSOProvider {
	yes := true
	return &entry.SSOProvider{UUID: ssoUUID, Name: "Corporate OIDC", Type: entry.SSOTypeOIDC, Enabled: true,
		AutoCreate: &yes, MFATrusted: true, UsernameAttribute: "upn",
		OIDC: &entry.SSOOIDC{ClientID: "gatehouse", SealedClientSecret: []byte{1, 2, 3},
			DiscoveryURL: "https://idp.example.com/.well-known/openid-configuration", Scopes: []string{"openid", "email"}},
		Version: 4, Created: 1700000000000, Updated: 1700000000001}
}

func ldapProvider(id, name string) *entry.SSOProvider {
	return &entry.SSOProvider{UUID: id, Name: name, Type: entry.SSOTypeLDAP, Enabled: true,
		LDAP: &entry.SSOLDAP{URL: "ldaps://ldap.example.com", BaseDN: "dc=example,dc=com", UserFilter: "(uid=%s)"}}
}

func TestSSOProviderPutIsCASAndNamesAreUnique(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	p := goldenSSOProvider()
	p.Version = 0
	// Only system_admins manage providers.
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: p}), CodeDenied)
	res := applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: p}))
	got, ok := f.SSOProvider(p.UUID)
	if !ok || got.Version != res.Index || got.Name != "Corporate OIDC" {
		t.Fatalf("stored: %+v (index %d)", got, res.Index)
	}
	if byName, ok := f.SSOProviderByName("corporate oidc"); !ok || byName.UUID != p.UUID {
		t.Fatal("lookup by name (any case) failed")
	}
	// A second create of the uuid, a stale version, an unknown uuid.
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: p}), CodeConflict)
	upd := got.Clone()
	upd.Name = "Renamed"
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: upd, ExpectedVersion: got.Version - 1}), CodeConflict)
	other := ldapProvider("88888888-8888-4888-8888-888888888888", "LDAP")
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: other, ExpectedVersion: 3}), CodeNotFound)
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: upd, ExpectedVersion: got.Version}))
	if cur, _ := f.SSOProvider(p.UUID); cur.Name != "Renamed" || cur.Created != got.Created {
		t.Fatalf("after update: %+v", cur)
	}
	// Names are unique regardless of case; the type never changes.
	other.Name = "RENAMED"
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: other}), CodeConflict)
	other.Name = "LDAP"
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: other}))
	cur, _ := f.SSOProvider(p.UUID)
	asLDAP := ldapProvider(p.UUID, "Renamed")
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: asLDAP, ExpectedVersion: cur.Version}), CodeInvalid)
	// Invalid records never land.
	bad := ldapProvider("99999999-9999-4999-8999-999999999999", "Bad")
	bad.LDAP.UserFilter = "(uid=x)"
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: bad}), CodeInvalid)
	if ps := f.SSOProviders(); len(ps) != 2 || ps[0].Name != "LDAP" || ps[1].Name != "Renamed" {
		t.Fatalf("providers: %+v", ps)
	}
}

func TestSSOProviderDeleteRefusesLinkedAccountsUnlessUnlink(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	p := ldapProvider(ssoUUID, "LDAP")
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: p}))
	q := ldapProvider("88888888-8888-4888-8888-888888888888", "Other")
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: q}))
	carol := &entry.Entry{UUID: "55555555-5555-4555-8555-555555555555", Class: entry.Person, Name: "carol",
		ExternalIDs: []entry.ExternalID{{Provider: p.UUID, Subject: "cn=carol"}, {Provider: q.UUID, Subject: "cn=carol"}}}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: carol}))
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeSSOProviderDelete, SSOProviderDelete{UUID: p.UUID, Unlink: true}), CodeDenied)
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderDelete, SSOProviderDelete{UUID: p.UUID}), CodeConflict)
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderDelete, SSOProviderDelete{UUID: p.UUID, Unlink: true}))
	if _, ok := f.SSOProvider(p.UUID); ok {
		t.Fatal("provider still there")
	}
	c, _ := f.Entry("carol")
	if len(c.ExternalIDs) != 1 || c.ExternalIDs[0].Provider != q.UUID {
		t.Fatalf("carol's links: %+v", c.ExternalIDs)
	}
	if _, ok := f.EntryByExternalID(p.UUID, "cn=carol"); ok {
		t.Fatal("the index still maps the removed link")
	}
	if e, ok := f.EntryByExternalID(q.UUID, "cn=carol"); !ok || e.Name != "carol" {
		t.Fatal("the other link was lost")
	}
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderDelete, SSOProviderDelete{UUID: p.UUID}), CodeNotFound)
}

func TestSSOSettingsRefuseToLockOutEveryAdmin(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	off := SSOSettingsSet{Settings: entry.SSOSettings{LocalAuthDisabled: true}}
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeSSOSettings, off), CodeDenied)
	// Nobody admin has a linked identity: refused with the seed's warning.
	res := f.ApplyBatch([]*raft.Log{b.logAs(entry.UUIDAdmin, TypeSSOSettings, off)})[0].(Result)
	if res.Err == nil || res.Err.Code != CodeConflict || !bytes.Contains([]byte(res.Err.Message), []byte("Ensure at least one admin has SSO access before disabling")) {
		t.Fatalf("want the lock-out refusal, got %+v", res.Err)
	}
	// A person in a group nested in idm_admins, linked at an enabled
	// provider: now it may be turned off.
	p := ldapProvider(ssoUUID, "LDAP")
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: p}))
	dana := &entry.Entry{UUID: "55555555-5555-4555-8555-555555555555", Class: entry.Person, Name: "dana",
		ExternalIDs: []entry.ExternalID{{Provider: p.UUID, Subject: "cn=dana"}}}
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeEntryCreate, EntryCreate{Entry: dana}))
	ops := &entry.Entry{UUID: "66666666-6666-4666-8666-666666666666", Class: entry.Group, Name: "ops", Members: []string{dana.UUID}}
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeEntryCreate, EntryCreate{Entry: ops}))
	idmAdmins, _ := f.Entry(entry.UUIDIDMAdmins)
	g := idmAdmins.Clone()
	g.Members = append(g.Members, ops.UUID)
	slices.Sort(g.Members)
	// SSO turned off for dana by override: still refused.
	d, _ := f.Entry("dana")
	no := false
	d.AuthOverrides = &entry.AuthOverrides{SSOAuth: &no}
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeEntryUpdate, EntryUpdate{Entry: d, ExpectedVersion: d.Version}))
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeEntryUpdate, EntryUpdate{Entry: g, ExpectedVersion: idmAdmins.Version}))
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOSettings, off), CodeConflict)
	d, _ = f.Entry("dana")
	d.AuthOverrides = nil
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeEntryUpdate, EntryUpdate{Entry: d, ExpectedVersion: d.Version}))
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOSettings, off))
	if s := f.SSOSettings(); !s.LocalAuthDisabled || s.NoAutoCreate || s.AutoEnable {
		t.Fatalf("settings: %+v", s)
	}
	// With local auth off, disabling or deleting dana's only provider
	// would lock everyone out: refused.
	cur, _ := f.SSOProvider(p.UUID)
	dis := cur.Clone()
	dis.Enabled = false
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: dis, ExpectedVersion: cur.Version}), CodeConflict)
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderDelete, SSOProviderDelete{UUID: p.UUID, Unlink: true}), CodeConflict)
	// CAS on the settings.
	st := f.StoredSSOSettings()
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSSOSettings, SSOSettingsSet{ExpectedVersion: st.Version - 1}), CodeConflict)
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOSettings, SSOSettingsSet{ExpectedVersion: st.Version}))
	if f.SSOSettings().LocalAuthDisabled {
		t.Fatal("local auth still off")
	}
}

// Two FSMs applying one SSO log in different batch sizes end identical.
func TestSSOCommandsAreDeterministic(t *testing.T) {
	b := &logBuilder{t: t}
	logs := []*raft.Log{initLog(b)}
	p := ldapProvider(ssoUUID, "LDAP")
	logs = append(logs, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: p}))
	for i, name := range []string{"ann", "bob", "cyd", "dee"} {
		e := &entry.Entry{UUID: "5555555" + string(rune('0'+i)) + "-5555-4555-8555-555555555555", Class: entry.Person, Name: name,
			ExternalIDs: []entry.ExternalID{{Provider: p.UUID, Subject: name}}}
		logs = append(logs, b.logAs(entry.UUIDAdmin, TypeEntryCreate, EntryCreate{Entry: e}))
	}
	logs = append(logs,
		b.logAs(entry.UUIDAdmin, TypeSSOSettings, SSOSettingsSet{Settings: entry.SSOSettings{LocalAuthDisabled: true}}),
		b.logAs(entry.UUIDAdmin, TypeSSOProviderDelete, SSOProviderDelete{UUID: p.UUID, Unlink: true}),
		b.logAs(entry.UUIDAdmin, TypeSSOSettings, SSOSettingsSet{Settings: entry.SSOSettings{AutoEnable: true}}),
		b.logAs(entry.UUIDAdmin, TypeSSOProviderDelete, SSOProviderDelete{UUID: p.UUID, Unlink: true}))
	dump := func(batch int) []byte {
		f := openTest(t)
		for i := 0; i < len(logs); i += batch {
			f.ApplyBatch(logs[i:min(i+batch, len(logs))])
		}
		var buf bytes.Buffer
		if err := f.Dump(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	one, all := dump(1), dump(len(logs))
	if !bytes.Equal(one, all) {
		t.Fatal("batch size changed the state")
	}
	if !bytes.Contains(one, []byte("auto_enable")) || bytes.Contains(one, []byte(`\"subject\":\"ann\"`)) || !bytes.Contains(one, []byte(`\"name\":\"ann\"`)) {
		t.Fatal("the log did not do what the test expects")
	}
}
