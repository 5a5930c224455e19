package fsm

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// The encoding of every command version is pinned: a log written by one
// release must decode identically in the next. Changing a body means a new
// version and a new golden file, never an edit of an old one.
func TestCommandEncodingIsPinned(t *testing.T) {
	alice := &entry.Entry{UUID: "11111111-1111-4111-8111-111111111111", Class: entry.Person, Name: "alice",
		DisplayName: "Alice", Mail: []string{"alice@example.com"}, Credentials: entry.Credentials{PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"},
		Version: 7, Created: 1700000000000, Updated: 1700000000001}
	cases := map[string]any{
		TypeSystemInit: SystemInit{Domain: "example.com", Builtins: entry.Builtins(1700000000000)[:1], DeniedNames: []string{"root"},
			SigningKey: SigningKey{KID: "k1", Alg: "ES256", PublicJWK: json.RawMessage(`{"kty":"EC"}`), SealedPrivate: []byte{1, 2, 3}, Created: 1}},
		TypeEntryCreate:       EntryCreate{Entry: alice},
		TypeEntryUpdate:       EntryUpdate{Entry: alice, ExpectedVersion: 6},
		TypeEntryDelete:       EntryDelete{UUID: alice.UUID, ExpectedVersion: 7},
		TypeDeniedNamesAppend: DeniedNames{Names: []string{"root", "toor"}},
		TypeDeniedNamesRemove: DeniedNames{Names: []string{"toor"}},
		TypeKeyAdd:            KeyAdd{Key: SigningKey{KID: "k2", Alg: "ES256", PublicJWK: json.RawMessage(`{}`), SealedPrivate: []byte{9}, Created: 2}},
		TypeNoop:              struct{}{},
		TypeSessionRecord: SessionRecord{Session: Session{ID: "n1.abc", Account: alice.UUID, Mechanism: "passwordmfa",
			Issued: 1700000000000, Expires: 1700028800000, Node: "n1"}},
		TypeSessionRevoke:    SessionRevoke{ID: "n1.abc", Account: alice.UUID, Expires: 1700028800000},
		TypeResetTokenCreate: ResetTokenCreate{Token: ResetToken{Hash: strings.Repeat("ab", 32), Account: alice.UUID, Expires: 1700003600000, Created: 1700000000000}},
		TypeCredentialCommit: CredentialCommit{UUID: alice.UUID, ExpectedVersion: 7, ResetTokenHash: strings.Repeat("ab", 32),
			Credentials: entry.Credentials{PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
				TOTP:     []entry.TOTP{{ID: "t1", Label: "phone", SealedSecret: []byte{1, 2}, Algorithm: "SHA256", Digits: 6, Period: 30, Created: 1}},
				Passkeys: []entry.WebAuthn{{ID: "p1", Label: "laptop", Credential: json.RawMessage(`{"id":"AQI"}`), Attested: true, Created: 2}}}},
		TypeGroupPolicy: GroupPolicy{UUID: alice.UUID, ExpectedVersion: 3, Policy: &entry.Policy{Enabled: true, AuthExpiry: 3600,
			CredentialTypeMinimum: "mfa", PasswordMinimumLength: 12, PrivilegeExpiry: 600,
			WebauthnAttestationCAList: &entry.AttestationCAList{CAs: map[string]entry.AttestationCA{"yubico": {CA: []byte{3}, AAGUIDs: map[string]string{"cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5"}}}}}},
		TypeBadlistAppend:     BadlistAppend{Passwords: []string{"correcthorsebatterystaple"}},
		TypeSSOProviderPut:    SSOProviderPut{Provider: goldenSSOProvider(), ExpectedVersion: 4},
		TypeSSOProviderDelete: SSOProviderDelete{UUID: goldenSSOProvider().UUID, ExpectedVersion: 5, Unlink: true},
		TypeSSOSettings:       SSOSettingsSet{Settings: entry.SSOSettings{LocalAuthDisabled: true, NoAutoCreate: true, AutoEnable: true}, ExpectedVersion: 6},
		TypeKeyRemove:         KeyRemove{KID: "k1"},
	}
	cases[TypeSealRotate] = SealRotate{Items: []ResealItem{{Kind: SealedTOTP, ID: alice.UUID, Sub: "t1",
		OldSum: bytes.Repeat([]byte{0xab}, 32), New: []byte{2, 1, 2, 3, 4, 9}}}}
	for typ, body := range oauth2GoldenCases() {
		cases[typ] = body
	}
	if len(cases) != len(newHandlerTable()) {
		t.Fatalf("%d golden cases for %d handlers: pin every command", len(cases), len(newHandlerTable()))
	}
	for typ, body := range cases {
		cmd, err := NewCommand(typ, 1, "req-golden", 1700000000000, body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "golden", typ+".v1.json")
		if *update {
			if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test ./fsm -run Pinned -update once for a new command)", typ, err)
		}
		if !bytes.Equal(bytes.TrimSpace(want), got) {
			t.Errorf("%s v1 encodes differently from its golden file:\n got %s\nwant %s", typ, got, want)
		}
		if _, err := DecodeCommand(bytes.TrimSpace(want)); err != nil {
			t.Errorf("golden %s does not decode: %v", typ, err)
		}
	}
}
