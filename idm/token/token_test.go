package token

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/ops/seal"
	"github.com/go-jose/go-jose/v4"
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

// Tokens the OAuth2 provider signs with the same keys are not sessions:
// an access token (typ at+jwt) or an ID token (with an audience).
func TestOnlySessionTokensVerify(t *testing.T) {
	s, _ := seal.New(bytes.Repeat([]byte{1}, 32))
	k, err := GenerateKey(s, "k1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	signer := NewSigner(keyList{k}, s, "https://idm.example.com")
	_, priv, err := signer.Active("ES256")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := Claims{Claims: jwt.Claims{Subject: "u", Issuer: "https://idm.example.com", Expiry: jwt.NewNumericDate(now.Add(time.Hour))}, SessionID: "s"}
	sign := func(typ string, c Claims) string {
		js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jwt.Signed(js).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	if _, err := signer.Verify(sign("JWT", claims), now); err != nil {
		t.Fatalf("a session token does not verify: %v", err)
	}
	if _, err := signer.Verify(sign("at+jwt", claims), now); err == nil {
		t.Fatal("an access token (typ at+jwt) verified as a session")
	}
	withAud := claims
	withAud.Audience = jwt.Audience{"client"}
	if _, err := signer.Verify(sign("JWT", withAud), now); err == nil {
		t.Fatal("a token with an audience (an ID token) verified as a session")
	}
}
