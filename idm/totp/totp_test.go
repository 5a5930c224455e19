package totp

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	ptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

func TestGenerateVerify(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	en, err := Generate(s, "example.com", "acct", "alice@example.com", "t1", "phone", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(en.PNG, []byte("\x89PNG")) || en.Cred.Algorithm != "SHA256" {
		t.Fatalf("enrolment: algorithm %q, png %d bytes", en.Cred.Algorithm, len(en.PNG))
	}
	if bytes.Contains(en.Cred.SealedSecret, []byte(en.Secret)) {
		t.Fatal("secret stored in clear")
	}
	code, err := Code(s, "acct", en.Cred, now)
	if err != nil {
		t.Fatal(err)
	}
	step, ok, err := Verify(s, "acct", en.Cred, code, now.Add(20*time.Second))
	if err != nil || !ok || step != now.Unix()/30 {
		t.Fatalf("verify: step %d ok %v err %v", step, ok, err)
	}
	if _, ok, _ := Verify(s, "acct", en.Cred, code, now.Add(5*time.Minute)); ok {
		t.Fatal("a code five minutes old verified")
	}
	if _, _, err := Verify(s, "other", en.Cred, code, now); err == nil {
		t.Fatal("a secret sealed for one account opened for another")
	}
}

// A code of every step of the window verifies with its own step, and
// Verify computes the whole window every time: returning at the first
// match would tell a guesser, by the time taken, which step it hit.
func TestVerifyChecksTheWholeWindowEveryTime(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	en, err := Generate(s, "example.com", "acct", "alice@example.com", "t1", "phone", "", now)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	orig := generate
	generate = func(secret string, t time.Time, o ptotp.ValidateOpts) (string, error) {
		calls++
		return orig(secret, t, o)
	}
	defer func() { generate = orig }()
	for d := int64(-Skew); d <= Skew; d++ {
		code, err := Code(s, "acct", en.Cred, now.Add(time.Duration(d)*30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		calls = 0
		step, ok, err := Verify(s, "acct", en.Cred, code, now)
		if err != nil || !ok || step != now.Unix()/30+d {
			t.Fatalf("the code of step %+d: step %d ok %v err %v", d, step, ok, err)
		}
		if calls != 2*Skew+1 {
			t.Fatalf("the code of step %+d: %d steps computed, want %d", d, calls, 2*Skew+1)
		}
	}
	calls = 0
	if _, ok, _ := Verify(s, "acct", en.Cred, "000000x", now); ok || calls != 0 {
		t.Fatalf("a code of the wrong length: ok %v after %d steps", ok, calls)
	}
}
