package fsm

import (
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

func TestSessionRecordsRevocationsAndPruning(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	carol := &entry.Entry{UUID: "55555555-5555-4555-8555-555555555555", Class: entry.Person, Name: "carol"}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: carol}))
	now := int64(b.index+1) * 1000
	s := Session{ID: "n1.a", Account: carol.UUID, Mechanism: "password", Issued: now, Expires: now + 5000}
	// Only the account itself (or the cluster) records its sessions.
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeSessionRecord, SessionRecord{Session: s}), CodeDenied)
	applyOK(t, f, b.logAs(carol.UUID, TypeSessionRecord, SessionRecord{Session: s}))
	if got := f.Sessions(carol.UUID); len(got) != 1 || got[0].ID != "n1.a" {
		t.Fatalf("sessions: %+v", got)
	}
	// Another person may not revoke carol's session; idm_admin may.
	dave := &entry.Entry{UUID: "66666666-6666-4666-8666-666666666666", Class: entry.Person, Name: "dave"}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: dave}))
	applyErr(t, f, b.logAs(dave.UUID, TypeSessionRevoke, SessionRevoke{ID: "n1.a"}), CodeDenied)
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeSessionRevoke, SessionRevoke{ID: "n1.a"}))
	if !f.IsRevoked("n1.a") || len(f.Sessions(carol.UUID)) != 0 {
		t.Fatal("the revoked session is still live")
	}
	// Once expired, the revocation is pruned by a later session command.
	for b.index*1000 < uint64(now+6000) {
		applyOK(t, f, b.log(TypeNoop, struct{}{}))
	}
	applyOK(t, f, b.logAs(carol.UUID, TypeSessionRecord, SessionRecord{Session: Session{ID: "n1.b", Account: carol.UUID,
		Issued: int64(b.index+1) * 1000, Expires: int64(b.index+1)*1000 + 5000}}))
	if f.IsRevoked("n1.a") {
		t.Fatal("an expired revocation was never pruned")
	}
}

func TestCredentialCommitAndResetTokens(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	carol := &entry.Entry{UUID: "55555555-5555-4555-8555-555555555555", Class: entry.Person, Name: "carol"}
	dave := &entry.Entry{UUID: "66666666-6666-4666-8666-666666666666", Class: entry.Person, Name: "dave"}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: carol}))
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: dave}))
	cur, _ := f.Entry("carol")
	creds := entry.Credentials{PasswordHash: "$argon2id$one"}
	// Someone else without rights: refused. Carol herself: fine.
	applyErr(t, f, b.logAs(dave.UUID, TypeCredentialCommit, CredentialCommit{UUID: carol.UUID, ExpectedVersion: cur.Version, Credentials: creds}), CodeDenied)
	applyOK(t, f, b.logAs(carol.UUID, TypeCredentialCommit, CredentialCommit{UUID: carol.UUID, ExpectedVersion: cur.Version, Credentials: creds}))
	// A second factor without a password is invalid.
	cur, _ = f.Entry("carol")
	applyErr(t, f, b.logAs(carol.UUID, TypeCredentialCommit, CredentialCommit{UUID: carol.UUID, ExpectedVersion: cur.Version,
		Credentials: entry.Credentials{TOTP: []entry.TOTP{{ID: "t", SealedSecret: []byte{1}, Algorithm: "SHA256", Digits: 6, Period: 30}}}}), CodeInvalid)

	// A reset token: issued by idm_admin, used once, for its account only.
	h := strings.Repeat("cd", 32)
	exp := int64(b.index+10) * 1000
	applyErr(t, f, b.logAs(dave.UUID, TypeResetTokenCreate, ResetTokenCreate{Token: ResetToken{Hash: h, Account: carol.UUID, Expires: exp}}), CodeDenied)
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeResetTokenCreate, ResetTokenCreate{Token: ResetToken{Hash: h, Account: carol.UUID, Expires: exp}}))
	if _, ok := f.ResetToken(h); !ok {
		t.Fatal("reset token not stored")
	}
	dv, _ := f.Entry("dave")
	applyErr(t, f, b.logAs(dave.UUID, TypeCredentialCommit, CredentialCommit{UUID: dave.UUID, ExpectedVersion: dv.Version, Credentials: creds, ResetTokenHash: h}), CodeDenied)
	cur, _ = f.Entry("carol")
	two := entry.Credentials{PasswordHash: "$argon2id$two"}
	applyOK(t, f, b.logAs("", TypeCredentialCommit, CredentialCommit{UUID: carol.UUID, ExpectedVersion: cur.Version, Credentials: two, ResetTokenHash: h}))
	cur, _ = f.Entry("carol")
	if cur.PasswordHash != "$argon2id$two" {
		t.Fatalf("password after reset: %q", cur.PasswordHash)
	}
	applyErr(t, f, b.logAs("", TypeCredentialCommit, CredentialCommit{UUID: carol.UUID, ExpectedVersion: cur.Version, Credentials: creds, ResetTokenHash: h}), CodeDenied)
	// An expired token is refused.
	h2 := strings.Repeat("ef", 32)
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeResetTokenCreate, ResetTokenCreate{Token: ResetToken{Hash: h2, Account: carol.UUID, Expires: int64(b.index+2) * 1000}}))
	applyOK(t, f, b.log(TypeNoop, struct{}{}))
	applyOK(t, f, b.log(TypeNoop, struct{}{}))
	applyErr(t, f, b.logAs("", TypeCredentialCommit, CredentialCommit{UUID: carol.UUID, ExpectedVersion: cur.Version, Credentials: creds, ResetTokenHash: h2}), CodeDenied)
}

func TestGroupPolicyNeedsAccountPolicyAdmins(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	carol := &entry.Entry{UUID: "55555555-5555-4555-8555-555555555555", Class: entry.Person, Name: "carol"}
	devs := &entry.Entry{UUID: "77777777-7777-4777-8777-777777777777", Class: entry.Group, Name: "devs"}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: carol}))
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: devs}))
	p := &entry.Policy{Enabled: true, PrivilegeExpiry: 900}
	applyErr(t, f, b.logAs(carol.UUID, TypeGroupPolicy, GroupPolicy{UUID: devs.UUID, Policy: p}), CodeDenied)
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeGroupPolicy, GroupPolicy{UUID: devs.UUID, Policy: p}))
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeGroupPolicy, GroupPolicy{UUID: devs.UUID, Policy: &entry.Policy{Enabled: true, PrivilegeExpiry: 86400}}), CodeInvalid)
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeGroupPolicy, GroupPolicy{UUID: carol.UUID, Policy: p}), CodeNotFound)
	if g, _ := f.Entry("devs"); g.Policy == nil || g.Policy.PrivilegeExpiry != 900 {
		t.Fatalf("policy: %+v", g.Policy)
	}
	if all, _ := f.Entry(entry.UUIDIDMAllPersons); all.Policy == nil || !all.Policy.Enabled {
		t.Fatal("idm_all_persons has no default policy")
	}
}

func TestKerberosPrincipalsAreUniqueAndFollowTheirEntry(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	carol := &entry.Entry{UUID: "55555555-5555-4555-8555-555555555555", Class: entry.Person, Name: "carol",
		KerberosPrincipals: []string{"carol@EXAMPLE.COM"}}
	dave := &entry.Entry{UUID: "66666666-6666-4666-8666-666666666666", Class: entry.Person, Name: "dave",
		KerberosPrincipals: []string{"carol@EXAMPLE.COM"}}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: carol}))
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: dave}), CodeConflict)
	if e, ok := f.EntryByPrincipal("carol@EXAMPLE.COM"); !ok || e.Name != "carol" {
		t.Fatalf("lookup by principal: %v %v", e, ok)
	}
	// Moving the principal: carol drops it, then dave may take it.
	cur, _ := f.Entry("carol")
	upd := cur.Clone()
	upd.KerberosPrincipals = []string{"c@OTHER.ORG"}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryUpdate, EntryUpdate{Entry: upd, ExpectedVersion: cur.Version}))
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: dave}))
	if e, ok := f.EntryByPrincipal("carol@EXAMPLE.COM"); !ok || e.Name != "dave" {
		t.Fatalf("after the move: %v %v", e, ok)
	}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryDelete, EntryDelete{UUID: dave.UUID}))
	if _, ok := f.EntryByPrincipal("carol@EXAMPLE.COM"); ok {
		t.Fatal("a deleted person's principal still maps")
	}
	grp := &entry.Entry{UUID: "77777777-7777-4777-8777-777777777777", Class: entry.Group, Name: "g", KerberosPrincipals: []string{"g@X"}}
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: grp}), CodeInvalid)
}
