// Package totp enrols and verifies TOTP generators (RFC 6238) with
// pquerna/otp. Secrets are sealed under the cluster encryption key before
// they leave this package (rule 3). Replay protection across the cluster
// belongs to the login (idm/authguard): Verify returns the time step that
// matched so the caller can claim it.
package totp

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
)

// Skew is how many periods either side of now a code may come from.
const Skew = 1

// generate computes one code; a variable so that a test can count calls.
var generate = ptotp.GenerateCodeCustom

// Enrolment is a generated, not yet verified, TOTP credential.
type Enrolment struct {
	Secret string // base32, shown once to the user
	URI    string // otpauth:// URI
	PNG    []byte // QR code of URI
	Cred   entry.TOTP
}

func algorithm(name string) (otp.Algorithm, error) {
	switch name {
	case "SHA1":
		return otp.AlgorithmSHA1, nil
	case "SHA256", "":
		return otp.AlgorithmSHA256, nil
	case "SHA512":
		return otp.AlgorithmSHA512, nil
	}
	return 0, fmt.Errorf("unknown TOTP algorithm %q: use SHA256, SHA512 or SHA1", name)
}

// Generate makes a new TOTP secret for account (issuer is the cluster's
// domain, accountName the spn), sealed for storage. algo is SHA256 unless
// given; SHA1 is the caller's decision (it needs the user's acceptance).
func Generate(s *seal.Sealer, issuer, accountUUID, accountName, id, label, algo string, now time.Time) (*Enrolment, error) {
	a, err := algorithm(algo)
	if err != nil {
		return nil, err
	}
	if algo == "" {
		algo = "SHA256"
	}
	key, err := ptotp.Generate(ptotp.GenerateOpts{Issuer: issuer, AccountName: accountName, Period: 30,
		Digits: otp.DigitsSix, Algorithm: a, SecretSize: 20})
	if err != nil {
		return nil, fmt.Errorf("generate totp: %w", err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	raw, err := decodeSecret(key.Secret())
	if err != nil {
		return nil, err
	}
	sealed, err := s.Seal(raw, entry.TOTPAAD(accountUUID, id))
	if err != nil {
		return nil, err
	}
	return &Enrolment{Secret: key.Secret(), URI: key.URL(), PNG: buf.Bytes(),
		Cred: entry.TOTP{ID: id, Label: label, SealedSecret: sealed, Algorithm: algo, Digits: 6, Period: 30, Created: now.UnixMilli()}}, nil
}

func decodeSecret(s string) ([]byte, error) {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(s, "=")))
	if err != nil {
		return nil, fmt.Errorf("totp secret: %w", err)
	}
	return b, nil
}

// Verify checks code against the credential at now. It returns the time
// step (Unix time / period) the code belongs to, so that the caller can
// refuse a second use of that step and of every earlier one. Every step of
// the window is computed and compared in constant time, whether or not an
// earlier one matched: how long Verify takes says nothing about which step
// (if any) a guess hit. Should two steps share the code, the newer wins:
// claiming it also spends the older.
func Verify(s *seal.Sealer, accountUUID string, c entry.TOTP, code string, now time.Time) (step int64, ok bool, err error) {
	raw, err := s.Open(c.SealedSecret, entry.TOTPAAD(accountUUID, c.ID))
	if err != nil {
		return 0, false, fmt.Errorf("open totp secret %s: %w", c.ID, err)
	}
	a, err := algorithm(c.Algorithm)
	if err != nil {
		return 0, false, err
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
	digits := otp.Digits(c.Digits)
	if len(code) != c.Digits {
		return 0, false, nil
	}
	period := int64(c.Period)
	base := now.Unix() / period
	matched := 0
	for d := int64(-Skew); d <= Skew; d++ {
		t := time.Unix((base+d)*period, 0)
		want, err := generate(secret, t, ptotp.ValidateOpts{Period: uint(c.Period), Digits: digits, Algorithm: a})
		if err != nil {
			return 0, false, fmt.Errorf("totp code: %w", err)
		}
		eq := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		step = int64(subtle.ConstantTimeSelect(eq, int(base+d), int(step)))
		matched |= eq
	}
	if matched != 1 {
		return 0, false, nil
	}
	return step, true, nil
}

// Code computes the code of a credential at t (for tests and the terminal
// enrolment check).
func Code(s *seal.Sealer, accountUUID string, c entry.TOTP, t time.Time) (string, error) {
	raw, err := s.Open(c.SealedSecret, entry.TOTPAAD(accountUUID, c.ID))
	if err != nil {
		return "", err
	}
	a, err := algorithm(c.Algorithm)
	if err != nil {
		return "", err
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
	return ptotp.GenerateCodeCustom(secret, t, ptotp.ValidateOpts{Period: uint(c.Period), Digits: otp.Digits(c.Digits), Algorithm: a})
}
