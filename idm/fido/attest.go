package fido

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/uuid"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// checkAttestation decides whether a verified registration's attestation
// meets the policy's CA list. go-webauthn has already checked the
// statement's signature with the leaf of x5c; what it does not do without
// a FIDO metadata service is build the chain to a trusted root, so that is
// done here with crypto/x509: leaf ← x5c[1:] ← one listed CA, and the
// authenticator's AAGUID among that CA's AAGUIDs when it lists any.
func checkAttestation(parsed *protocol.ParsedCredentialCreationData, cas *entry.AttestationCAList, now time.Time) error {
	att := parsed.Response.AttestationObject
	raw, _ := att.AttStatement["x5c"].([]any)
	if len(raw) == 0 {
		return fmt.Errorf("%w: the authenticator gave no attestation certificate (format %q)", ErrNotTrusted, att.Format)
	}
	var chain []*x509.Certificate
	for _, r := range raw {
		der, ok := r.([]byte)
		if !ok {
			return fmt.Errorf("%w: an attestation certificate is not a byte string", ErrNotTrusted)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%w: attestation certificate: %v", ErrNotTrusted, err)
		}
		chain = append(chain, c)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	aaguid := "00000000-0000-0000-0000-000000000000"
	if g, err := uuid.FromBytes(att.AuthData.AttData.AAGUID); err == nil {
		aaguid = g.String()
	}

	chained := false
	names := make([]string, 0, len(cas.CAs))
	for name := range cas.CAs {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic: the same answer on every node
	for _, name := range names {
		ca := cas.CAs[name]
		root, err := x509.ParseCertificate(ca.CA)
		if err != nil {
			continue // a bad entry cannot vouch for anything
		}
		roots := x509.NewCertPool()
		roots.AddCert(root)
		if _, err := chain[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		}); err != nil {
			continue
		}
		chained = true
		if len(ca.AAGUIDs) == 0 || listed(ca.AAGUIDs, aaguid) {
			return nil
		}
	}
	if chained {
		return fmt.Errorf("%w: its model (AAGUID %s) is not listed", ErrNotTrusted, aaguid)
	}
	return fmt.Errorf("%w: its certificate chains to none of the listed CAs", ErrNotTrusted)
}

// listed compares AAGUIDs as uuids, so upper-case or brace-less spellings
// in a policy still match.
func listed(aaguids map[string]string, aaguid string) bool {
	for k := range aaguids {
		if g, err := uuid.Parse(k); err == nil && g.String() == aaguid {
			return true
		}
		if strings.EqualFold(k, aaguid) {
			return true
		}
	}
	return false
}
