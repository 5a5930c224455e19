package oidcuptest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// idToken signs the ID token for grant g, bound to the access token by
// at_hash.
func (p *Provider) idToken(g *grant, access string) (string, error) {
	now := time.Now()
	sum := sha256.Sum256([]byte(access))
	claims := userClaims(g.user)
	claims["iss"] = p.Issuer()
	claims["aud"] = p.opts.ClientID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(5 * time.Minute).Unix()
	claims["at_hash"] = base64.RawURLEncoding.EncodeToString(sum[:16])
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if p.opts.IDTokenHook != nil {
		p.opts.IDTokenHook(claims)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encoding claims: %w", err)
	}
	switch p.opts.Alg {
	case "HS256":
		return hmacJWT([]byte(p.opts.ClientSecret), payload), nil
	case "none":
		return unsignedJWT(payload), nil
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(p.jwksAlg()), Key: jose.JSONWebKey{Key: p.signer, KeyID: p.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("making signer: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing: %w", err)
	}
	return obj.CompactSerialize()
}
