package token

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/go-jose/go-jose/v4/jwt"
)

type keyList []fsm.SigningKey

func (k keyList) SigningKeys() []fsm.SigningKey { return k }

func TestSignVerify(t *testing.T) {
	s, _ := seal.New(bytes.Repeat([]byte{1}, 32))
	now := time.Now()
	k, err := GenerateKey(s, "k1", now)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(k.PublicJWK, []byte(`"d"`)) {
		t.Fatal("the public JWK holds the private scalar")
	}
	signer := NewSigner(keyList{k}, s, "https://idm.example")
	tok, err := signer.Sign(Claims{Claims: jwt.Claims{Subject: "u1", Expiry: jwt.NewNumericDate(now.Add(time.Hour))}, SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := signer.Verify(tok, now)
	if err != nil || c.Subject != "u1" {
		t.Fatalf("verify: %v %+v", err, c)
	}
	if _, err := signer.Verify(tok, now.Add(2*time.Hour)); err == nil {
		t.Fatal("an expired token verified")
	}
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	if _, err := signer.Verify(forged, now); err == nil {
		t.Fatal("a forged signature verified")
	}
	other, _ := GenerateKey(s, "k1", now)
	if _, err := NewSigner(keyList{other}, s, "https://idm.example").Verify(tok, now); err == nil {
		t.Fatal("a token verified under another cluster's key")
	}
	if len(signer.JWKS().Keys) != 1 {
		t.Fatal("jwks lists no key")
	}
}
