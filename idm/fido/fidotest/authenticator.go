package fidotest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// ErrNoCredential: the authenticator holds no credential the options allow
// (a browser would report NotAllowedError).
var ErrNoCredential = errors.New("fidotest: no matching credential on this authenticator")

// ErrExcluded: the options exclude a credential this authenticator already
// holds (a browser would report InvalidStateError).
var ErrExcluded = errors.New("fidotest: this authenticator is already registered (excluded credential)")

// COSE constants for an ES256 (P-256, SHA-256) public key.
const (
	coseKty      = 1
	coseAlg      = 3
	coseCrv      = -1
	coseX        = -2
	coseY        = -3
	coseKtyEC2   = 2
	coseAlgES256 = -7
	coseCrvP256  = 1
)

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

var b64 = base64.RawURLEncoding

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithAttestation makes the authenticator answer creation options that ask
// for attestation ("direct", "indirect" or "enterprise") with packed
// attestation chained to ca, and report ca's AAGUID.
func WithAttestation(ca *CA) Option { return func(a *Authenticator) { a.ca = ca } }

// WithAttestationCA is WithAttestation under the name of the shared contract.
func WithAttestationCA(ca *CA) Option { return WithAttestation(ca) }

// Authenticator is one software authenticator speaking for one origin.
type Authenticator struct {
	origin string
	ca     *CA
	st     *store
}

// store is the authenticator's credentials, shared with ForOrigin views.
type store struct {
	mu    sync.Mutex
	creds []*credential
}

type credential struct {
	id         []byte
	key        *ecdsa.PrivateKey
	rpID       string
	userHandle []byte
	resident   bool
	counter    uint32
}

// New returns an authenticator whose client data names origin (scheme,
// host and port, e.g. "https://localhost:8443").
func New(origin string, opts ...Option) *Authenticator {
	a := &Authenticator{origin: origin, st: &store{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// ForOrigin is the same authenticator (same credentials) used by a page of
// another origin: what a phishing site relaying to the user's key would
// produce. The relying party must refuse its answers.
func (a *Authenticator) ForOrigin(origin string) *Authenticator {
	return &Authenticator{origin: origin, ca: a.ca, st: a.st}
}

// AAGUID is the model identifier the authenticator reports: its CA's AAGUID,
// or the zero uuid without attestation.
func (a *Authenticator) AAGUID() string { return uuidString(a.aaguid()) }

// TestCA is the root the authenticator's attestation chains to (nil without
// attestation).
func (a *Authenticator) TestCA() (*x509.Certificate, []byte) {
	if a.ca == nil {
		return nil, nil
	}
	return a.ca.cert, a.ca.der
}

func (a *Authenticator) aaguid() [16]byte {
	if a.ca == nil {
		return [16]byte{}
	}
	return a.ca.aaguid
}

// creationOptions is the part of PublicKeyCredentialCreationOptions(JSON) an
// authenticator needs.
type creationOptions struct {
	RP struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Challenge string       `json:"challenge"`
	Params    []credParam  `json:"pubKeyCredParams"`
	Exclude   []descriptor `json:"excludeCredentials"`
	Selection struct {
		ResidentKey        string `json:"residentKey"`
		RequireResidentKey bool   `json:"requireResidentKey"`
	} `json:"authenticatorSelection"`
	Attestation string `json:"attestation"`
}

type requestOptions struct {
	Challenge string       `json:"challenge"`
	RPID      string       `json:"rpId"`
	Allow     []descriptor `json:"allowCredentials"`
}

type credParam struct {
	Alg int `json:"alg"`
}

type descriptor struct {
	ID string `json:"id"`
}

// unwrap accepts both {"publicKey":{...}} and the bare options.
func unwrap(options json.RawMessage) json.RawMessage {
	var outer struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if json.Unmarshal(options, &outer) == nil && len(outer.PublicKey) > 0 {
		return outer.PublicKey
	}
	return options
}

// Register answers creation options with a new credential: the JSON of a
// PublicKeyCredential with an AuthenticatorAttestationResponse.
func (a *Authenticator) Register(options json.RawMessage, uv bool) (json.RawMessage, error) {
	var o creationOptions
	if err := json.Unmarshal(unwrap(options), &o); err != nil {
		return nil, fmt.Errorf("fidotest: creation options: %w", err)
	}
	userHandle, err := b64.DecodeString(o.User.ID)
	if err != nil || o.RP.ID == "" || o.Challenge == "" {
		return nil, fmt.Errorf("fidotest: creation options lack rp.id, user.id or challenge")
	}
	challenge, err := b64.DecodeString(o.Challenge)
	if err != nil {
		return nil, fmt.Errorf("fidotest: challenge: %w", err)
	}
	if len(o.Params) > 0 && !slices.Contains(o.Params, credParam{Alg: coseAlgES256}) {
		return nil, fmt.Errorf("fidotest: the options do not allow ES256")
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("fidotest: key: %w", err)
	}
	c := &credential{id: make([]byte, 32), key: key, rpID: o.RP.ID, userHandle: userHandle,
		resident: o.Selection.RequireResidentKey || o.Selection.ResidentKey == "required" || o.Selection.ResidentKey == "preferred"}
	if _, err := rand.Read(c.id); err != nil {
		return nil, fmt.Errorf("fidotest: credential id: %w", err)
	}

	a.st.mu.Lock()
	for _, held := range a.st.creds {
		for _, ex := range o.Exclude {
			if id, err := b64.DecodeString(ex.ID); err == nil && held.rpID == o.RP.ID && bytes.Equal(id, held.id) {
				a.st.mu.Unlock()
				return nil, ErrExcluded
			}
		}
	}
	a.st.creds = append(a.st.creds, c)
	a.st.mu.Unlock()

	pub, err := coseKey(key)
	if err != nil {
		return nil, err
	}
	rpHash := sha256.Sum256([]byte(o.RP.ID))
	aaguid := a.aaguid()
	authData := slices.Concat(rpHash[:], []byte{flags(uv) | flagAT}, make([]byte, 4), aaguid[:],
		binary.BigEndian.AppendUint16(nil, uint16(len(c.id))), c.id, pub)
	clientData, err := a.clientData("webauthn.create", challenge)
	if err != nil {
		return nil, err
	}
	attObj, err := a.attestationObject(o.Attestation, authData, clientData)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"authenticatorAttachment": "cross-platform",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData),
			"attestationObject": b64.EncodeToString(attObj),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": map[string]any{},
	})
}

// Login answers request options with an assertion from the first held
// credential listed in allowCredentials, or, when the list is empty (a
// discoverable login), the newest resident credential for the RP.
func (a *Authenticator) Login(options json.RawMessage, uv bool) (json.RawMessage, error) {
	var o requestOptions
	if err := json.Unmarshal(unwrap(options), &o); err != nil {
		return nil, fmt.Errorf("fidotest: request options: %w", err)
	}
	if o.RPID == "" || o.Challenge == "" {
		return nil, fmt.Errorf("fidotest: request options lack rpId or challenge")
	}
	challenge, err := b64.DecodeString(o.Challenge)
	if err != nil {
		return nil, fmt.Errorf("fidotest: challenge: %w", err)
	}
	c, counter, err := a.pick(o)
	if err != nil {
		return nil, err
	}
	rpHash := sha256.Sum256([]byte(o.RPID))
	authData := slices.Concat(rpHash[:], []byte{flags(uv)}, binary.BigEndian.AppendUint32(nil, counter))
	clientData, err := a.clientData("webauthn.get", challenge)
	if err != nil {
		return nil, err
	}
	sig, err := sign(c.key, authData, clientData)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(sig),
	}
	if c.resident {
		resp["userHandle"] = b64.EncodeToString(c.userHandle)
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.id), "rawId": b64.EncodeToString(c.id), "type": "public-key",
		"authenticatorAttachment": "cross-platform", "response": resp,
		"clientExtensionResults": map[string]any{},
	})
}

// pick chooses the credential and advances its signature counter.
func (a *Authenticator) pick(o requestOptions) (*credential, uint32, error) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	var found *credential
	if len(o.Allow) == 0 {
		for _, c := range slices.Backward(a.st.creds) {
			if c.resident && c.rpID == o.RPID {
				found = c
				break
			}
		}
	} else {
	search:
		for _, d := range o.Allow {
			id, err := b64.DecodeString(d.ID)
			if err != nil {
				continue
			}
			for _, c := range a.st.creds {
				if c.rpID == o.RPID && bytes.Equal(c.id, id) {
					found = c
					break search
				}
			}
		}
	}
	if found == nil {
		return nil, 0, ErrNoCredential
	}
	found.counter++
	return found, found.counter, nil
}

func flags(uv bool) byte {
	if uv {
		return flagUP | flagUV
	}
	return flagUP
}

func (a *Authenticator) clientData(typ string, challenge []byte) ([]byte, error) {
	b, err := json.Marshal(map[string]any{
		"type": typ, "challenge": b64.EncodeToString(challenge), "origin": a.origin, "crossOrigin": false,
	})
	if err != nil {
		return nil, fmt.Errorf("fidotest: client data: %w", err)
	}
	return b, nil
}

// attestationObject is "none", or "packed" with x5c when the authenticator
// has a CA and the RP asked for attestation (a browser strips attestation
// when the conveyance preference is "none").
func (a *Authenticator) attestationObject(conveyance string, authData, clientData []byte) ([]byte, error) {
	format, stmt := "none", map[string]any{}
	if a.ca != nil && conveyance != "" && conveyance != "none" {
		sig, err := sign(a.ca.leafKey, authData, clientData)
		if err != nil {
			return nil, err
		}
		format = "packed"
		stmt = map[string]any{"alg": coseAlgES256, "sig": sig, "x5c": [][]byte{a.ca.leafDER, a.ca.interDER}}
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, fmt.Errorf("fidotest: cbor: %w", err)
	}
	b, err := em.Marshal(map[string]any{"fmt": format, "attStmt": stmt, "authData": authData})
	if err != nil {
		return nil, fmt.Errorf("fidotest: attestation object: %w", err)
	}
	return b, nil
}

// sign is the WebAuthn signature: ECDSA (ASN.1 DER) over
// authenticatorData || SHA-256(clientDataJSON).
func sign(key *ecdsa.PrivateKey, authData, clientData []byte) ([]byte, error) {
	cdHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(slices.Concat(authData, cdHash[:]))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("fidotest: sign: %w", err)
	}
	return sig, nil
}

// coseKey encodes the public key as a COSE_Key (RFC 9052) in CTAP2
// canonical CBOR.
func coseKey(key *ecdsa.PrivateKey) ([]byte, error) {
	raw, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("fidotest: public key: %w", err)
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, fmt.Errorf("fidotest: cbor: %w", err)
	}
	b, err := em.Marshal(map[int]any{
		coseKty: coseKtyEC2, coseAlg: coseAlgES256, coseCrv: coseCrvP256, coseX: raw[1:33], coseY: raw[33:65],
	})
	if err != nil {
		return nil, fmt.Errorf("fidotest: cose key: %w", err)
	}
	return b, nil
}
