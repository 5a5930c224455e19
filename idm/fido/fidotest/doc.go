// Package fidotest is a software WebAuthn authenticator for Go tests: it
// answers the creation and request options idm/fido produces with the
// PublicKeyCredential JSON a browser would send, without a browser.
//
// Each Authenticator holds its own P-256 credential keys and keeps every
// credential it made (with its user handle, so discoverable logins work).
// By default it returns "none" attestation; built WithAttestation(ca) it
// returns "packed" attestation whose x5c chain (leaf, intermediate) ends at
// a test CA made by NewTestCA, and reports that CA's AAGUID.
//
// The uv argument of Register and Login sets the user-verified flag whatever
// the options ask for, so tests can show that the relying party refuses a
// response without user verification. It is safe for concurrent use.
package fidotest
