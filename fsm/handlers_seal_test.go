package fsm

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

func TestSealRotateReplacesOnlyUnchangedValues(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	carol := &entry.Entry{UUID: "55555555-5555-4555-8555-555555555555", Class: entry.Person, Name: "carol",
		Credentials: entry.Credentials{PasswordHash: "$argon2id$x",
			TOTP: []entry.TOTP{{ID: "t1", SealedSecret: []byte{1, 1}, Algorithm: "SHA1", Digits: 6, Period: 30}}}}
	applyOK(t, f, b.logAs(entry.UUIDIDMAdmin, TypeEntryCreate, EntryCreate{Entry: carol}))
	vals := f.SealedValues()
	var key, totp SealedValue
	for _, v := range vals {
		switch v.Kind {
		case SealedSigningKey:
			key = v
		case SealedTOTP:
			totp = v
		}
	}
	if key.ID == "" || totp.ID != carol.UUID || totp.Sub != "t1" {
		t.Fatalf("sealed values: %+v", vals)
	}
	stale := totp
	stale.Value = []byte{9, 9} // not what the state holds
	items := []ResealItem{Reseal(key, []byte{2, 0, 0, 0, 0, 7}), Reseal(totp, []byte{2, 5}), Reseal(stale, []byte{2, 6})}
	// Only system administrators (or the cluster) re-seal.
	applyErr(t, f, b.logAs(entry.UUIDIDMAdmin, TypeSealRotate, SealRotate{Items: items}), CodeDenied)
	applyErr(t, f, b.logAs(entry.UUIDAdmin, TypeSealRotate, SealRotate{Items: []ResealItem{{Kind: "bogus", OldSum: make([]byte, 32), New: []byte{1}}}}), CodeInvalid)
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSealRotate, SealRotate{Items: items}))
	got, _ := f.Entry("carol")
	if !bytes.Equal(got.TOTP[0].SealedSecret, []byte{2, 5}) {
		t.Fatalf("totp secret = %v, want the re-sealed value (and the stale item ignored)", got.TOTP[0].SealedSecret)
	}
	if ks := f.SigningKeys(); !bytes.Equal(ks[0].SealedPrivate, []byte{2, 0, 0, 0, 0, 7}) {
		t.Fatalf("signing key = %v", ks[0].SealedPrivate)
	}
	// Applying the same items again replaces nothing: their old sums no
	// longer match.
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSealRotate, SealRotate{Items: items}))
	got, _ = f.Entry("carol")
	if !bytes.Equal(got.TOTP[0].SealedSecret, []byte{2, 5}) {
		t.Fatal("a stale re-seal overwrote a newer value")
	}
}

func TestSealRotateProviderSecret(t *testing.T) {
	f := openTest(t)
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b))
	p := goldenSSOProvider()
	p.Version = 0
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSSOProviderPut, SSOProviderPut{Provider: p}))
	var v SealedValue
	for _, s := range f.SealedValues() {
		if s.Kind == SealedSSOSecret {
			v = s
		}
	}
	if v.ID != p.UUID || v.Sub != "client_secret" || !bytes.Equal(v.Value, []byte{1, 2, 3}) {
		t.Fatalf("provider secret not listed: %+v", v)
	}
	applyOK(t, f, b.logAs(entry.UUIDAdmin, TypeSealRotate, SealRotate{Items: []ResealItem{Reseal(v, []byte{2, 7})}}))
	got, ok := f.SSOProvider(p.UUID)
	if !ok || !bytes.Equal(got.OIDC.SealedClientSecret, []byte{2, 7}) {
		t.Fatalf("provider secret after re-seal: %+v", got.OIDC)
	}
}

// A restarted node lists its signing keys in creation order, as a node
// that applied the log did, not in the store's kid order.
func TestSigningKeysKeepCreationOrderAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	b := &logBuilder{t: t}
	applyOK(t, f, initLog(b)) // kid "k1", created 0
	applyOK(t, f, b.log(TypeKeyAdd, KeyAdd{Key: SigningKey{KID: "a-newer", Alg: "ES256", SealedPrivate: []byte{1}, Created: 5}}))
	f.Close()
	f, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ks := f.SigningKeys()
	if len(ks) != 2 || ks[1].KID != "a-newer" {
		t.Fatalf("keys after restart: %+v", ks)
	}
	if k, _ := NewestKey(ks, "ES256"); k.KID != "a-newer" {
		t.Fatalf("newest = %s", k.KID)
	}
}
