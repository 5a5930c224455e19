// Package samlsp is Gatehouse's SAML 2.0 service provider for logins through
// an upstream IdP (Okta, ADFS, Entra ID, Shibboleth, ...): SP key
// generation, signed AuthnRequests (HTTP-Redirect binding), checking the
// IdP's HTTP-POST response, SP metadata, and "test connection".
//
// It builds requests and metadata with github.com/russellhaering/gosaml2 and
// checks responses itself on github.com/russellhaering/goxmldsig (>= 1.6.1)
// and gosaml2's decryption, because gosaml2's own response checking treats
// an expired or wrong-audience assertion as a warning, does not check
// InResponseTo, and does not expose the NameID format. The rules:
//
//   - exactly one Assertion or EncryptedAssertion directly under the
//     Response; its content is read only from the element goxmldsig returns
//     after verifying a signature (the Response's or its own), so a signature
//     over one element never vouches for another (signature wrapping);
//   - unsigned is refused unless the admin allowed it; a signature that is
//     present is always verified; plain assertions are refused when the
//     provider requires encryption;
//   - Issuer = the IdP entity id, status Success, Destination (when present)
//     and the bearer Recipient = our ACS URL, InResponseTo = the request the
//     caller sent (no IdP-initiated logins), inside NotBefore (two minutes of
//     skew) and NotOnOrAfter (none), and an audience naming our entity id.
//
// Before any of that, the XML is bounded (1 MiB, 48 levels, 20,000
// elements; no DOCTYPE, entity or processing instruction), and an
// EncryptedAssertion must use RSA-OAEP key transport (RSA 1.5 is refused:
// a Bleichenbacher oracle against our public key) and AES-GCM or AES-CBC;
// every failure after those checks reads the same, so the answers are no
// padding oracle.
//
// Replay is the caller's: ParseResponse returns the assertion id and the end
// of its validity, which the login claims once across the cluster.
//
// The identity: Subject = NameID; Email from an emailAddress NameID or a
// mail/email attribute; DisplayName from displayName/cn/name; Claims = every
// attribute; EmailVerified is true because the IdP is the organisation's
// directory, trusted by the admin who configured it; MFA from the
// AuthnContextClassRef (time-sync token, PKI smartcard, REFEDS and
// Microsoft MFA classes; not X509 or Smartcard alone, one factor each).
package samlsp
