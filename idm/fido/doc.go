// Package fido is Gatehouse's WebAuthn relying party: thin glue between the
// account model (entry.WebAuthn records holding go-webauthn's
// webauthn.Credential as JSON) and github.com/go-webauthn/webauthn, which
// does the protocol checks (challenge, origin, RP ID hash, flags,
// signature, attestation statement).
//
// Flows. Begin* returns the options for navigator.credentials.create/get
// (the JSON of protocol.CredentialCreation / CredentialAssertion) and a
// state (the JSON of webauthn.SessionData) that the node owning the
// in-flight session keeps in memory; Finish* takes that state back with the
// browser's PublicKeyCredential JSON. The RP itself holds no state, so any
// node can serve any ceremony once the caller has routed it to the owner.
//
// Kinds. A Passkey is a discoverable credential that must verify the user
// (PIN or biometric): it is a whole login. A SecurityKey is a second factor
// next to a password: user verification is discouraged and it need not be
// resident. The user handle is the 16 raw bytes of the account uuid, so a
// usernameless login names the account directly and survives renames.
//
// Attestation. When the account's resolved policy carries an attestation CA
// list, registration asks for direct attestation and the x5c chain of the
// statement must verify (crypto/x509) to one listed root, with the
// authenticator's AAGUID listed under that root when the root lists any.
// go-webauthn verifies the statement's signature but, without a FIDO
// metadata service, builds no chain to a trust anchor; the policy's list is
// the trust anchor here, so the chain is checked in attest.go.
//
// Sign counters are not written back. Doing so would cost a Raft write per
// login (rule 4 of PRODUCT.md keeps logins off the log), and with logins
// served by every node a counter could only be compared against a
// replicated value that lags. So the clone-detection check of WebAuthn
// §7.2 (the signature-counter step) is not done: a cloned authenticator is
// not detected by its counter. Most passkeys (synced platform credentials) report a counter of
// zero anyway, which makes the check moot for them.
//
// Errors wrap one of the Err* reasons (errors.Is) with the library's detail
// appended; no input makes these functions panic (FuzzFinishLogin,
// FuzzFinishRegistration).
package fido
