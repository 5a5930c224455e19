package mitkdc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A realm starts on 127.0.0.1, a user gets a ticket with her password and
// a service ticket, a wrong password is refused, a key rotation raises the
// key version and a keytab is written; Stop ends krb5kdc.
func TestRealmKinitKeytabRotation(t *testing.T) {
	dir := t.TempDir()
	k, err := Start(dir, "EXAMPLE.COM")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop()
	if err := k.AddPrincipal("alice", "alice-pw-1"); err != nil {
		t.Fatal(err)
	}
	if err := k.AddPrincipal("alice", "again"); err == nil {
		t.Fatal("adding alice twice: no error")
	}
	if err := k.AddRandKey("HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	cc := filepath.Join(dir, "alice.cc")
	if err := k.Kinit(cc, "alice", "wrong"); err == nil {
		t.Fatal("kinit with a wrong password succeeded")
	}
	if err := k.Kinit(cc, "alice@EXAMPLE.COM", "alice-pw-1"); err != nil {
		t.Fatal(err)
	}
	kv, err := k.GetServiceTicket(cc, "HTTP/localhost")
	if err != nil || kv != 1 {
		t.Fatalf("service ticket: kvno %d, %v", kv, err)
	}
	out, err := k.Klist(cc)
	if err != nil || !strings.Contains(out, "HTTP/localhost@EXAMPLE.COM") || !strings.Contains(out, "alice@EXAMPLE.COM") {
		t.Fatalf("klist: %v\n%s", err, out)
	}
	kt := filepath.Join(dir, "http.keytab")
	if err := k.Keytab(kt, "HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	// -norandkey: the export did not change the key.
	if kv, err := k.Kvno("HTTP/localhost"); err != nil || kv != 1 {
		t.Fatalf("kvno after export: %d, %v", kv, err)
	}
	nk, err := k.ChangeKey("HTTP/localhost")
	if err != nil || nk != 2 {
		t.Fatalf("change key: %d, %v", nk, err)
	}
	if err := k.Keytab(kt, "HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(kt); err != nil || fi.Size() == 0 {
		t.Fatalf("keytab: %v", err)
	}
	cc2 := filepath.Join(dir, "alice2.cc")
	if err := k.Kinit(cc2, "alice", "alice-pw-1"); err != nil {
		t.Fatal(err)
	}
	if kv, err := k.GetServiceTicket(cc2, "HTTP/localhost"); err != nil || kv != 2 {
		t.Fatalf("service ticket after rotation: kvno %d, %v", kv, err)
	}
	pid := k.PID()
	k.Stop()
	if k.PID() != 0 || pid == 0 {
		t.Fatalf("pid %d after stop, %d before", k.PID(), pid)
	}
	if err := k.Kinit(cc, "alice", "alice-pw-1"); err == nil {
		t.Fatal("kinit after Stop succeeded")
	}
}

// A user of a trusted realm gets a ticket for a service of the trusting
// realm through the cross-realm key.
func TestCrossRealmTrust(t *testing.T) {
	a, err := Start(t.TempDir(), "EXAMPLE.COM")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	b, err := Start(t.TempDir(), "PARTNER.TEST")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	if err := a.TrustFrom(b); err != nil {
		t.Fatal(err)
	}
	if err := a.AddRandKey("HTTP/localhost"); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPrincipal("carol", "carol-pw"); err != nil {
		t.Fatal(err)
	}
	cc := filepath.Join(t.TempDir(), "cc")
	if err := a.Kinit(cc, "carol@PARTNER.TEST", "carol-pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetServiceTicket(cc, "HTTP/localhost@EXAMPLE.COM"); err != nil {
		t.Fatalf("cross-realm service ticket: %v\n%s\n%s", err, a.Log(), b.Log())
	}
}
