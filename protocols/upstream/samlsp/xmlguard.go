package samlsp

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/russellhaering/gosaml2/types"
)

// Bounds on the XML we parse before any signature is checked: everything
// here is attacker-supplied. Real responses nest about 8 deep and hold a
// few hundred elements (an IdP sending every group of a large directory a
// few thousand); anything past these is refused before etree and the
// canonicaliser walk it recursively.
const (
	maxXMLDepth    = 48
	maxXMLElements = 20000
)

// prescanXML refuses what no SAML response needs and what only an attack
// uses: a DOCTYPE or any other directive (entity declarations: the
// "billion laughs" expansion, external entities), processing instructions
// other than the XML declaration, deep nesting and huge element counts.
// encoding/xml expands no custom entity anyway, but refusing the DOCTYPE
// outright keeps us safe whatever the parsers after it do.
func prescanXML(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	depth, elements := 0, 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			elements++
			if depth > maxXMLDepth {
				return fmt.Errorf("%w: XML nested deeper than %d elements", ErrMalformed, maxXMLDepth)
			}
			if elements > maxXMLElements {
				return fmt.Errorf("%w: more than %d XML elements", ErrMalformed, maxXMLElements)
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return fmt.Errorf("%w: DOCTYPE and other XML directives are not accepted", ErrMalformed)
		case xml.ProcInst:
			if t.Target != "xml" {
				return fmt.Errorf("%w: XML processing instruction %q is not accepted", ErrMalformed, t.Target)
			}
		}
	}
}

// Algorithms of an EncryptedAssertion we open. Key transport is RSA-OAEP
// only: RSA PKCS#1 v1.5 decryption is a Bleichenbacher oracle (anyone holds
// our public key from the metadata and can send us ciphertexts), and XML
// Encryption 1.1 forbids it. Content: AES-GCM, and AES-CBC because most
// IdPs (crewjam, older ADFS and Shibboleth) still send it; 3DES is refused.
var (
	keyTransportOK = map[string]bool{types.MethodRSAOAEP: true, types.MethodRSAOAEP2: true}
	gcmMethods     = map[string]bool{types.MethodAES128GCM: true, types.MethodAES192GCM: true, types.MethodAES256GCM: true}
	cbcMethods     = map[string]bool{types.MethodAES128CBC: true, types.MethodAES256CBC: true}
)

// checkEncryption refuses algorithms we do not accept and ciphertexts too
// short for their mode, before gosaml2 decrypts: its DecryptBytes slices
// the nonce or IV off without a length check, so a three-byte CipherValue
// under a valid key would panic the request. The refusals name the
// algorithm, which the sender chose; nothing here depends on our key.
func checkEncryption(ea *types.EncryptedAssertion) error {
	ek := &ea.EncryptedKey
	if ek.CipherValue == "" {
		ek = &ea.DetEncryptedKey // the same choice DecryptBytes makes
	}
	if alg := ek.EncryptionMethod.Algorithm; !keyTransportOK[alg] {
		return fmt.Errorf("%w: key transport %q is not accepted (RSA-OAEP only; RSA 1.5 is refused)", ErrDecrypt, alg)
	}
	data, err := base64.StdEncoding.DecodeString(ea.CipherValue)
	if err != nil {
		return fmt.Errorf("%w: CipherValue is not base64", ErrDecrypt)
	}
	switch alg := ea.EncryptionMethod.Algorithm; {
	case gcmMethods[alg]:
		if len(data) < 12+16 { // nonce + tag
			return fmt.Errorf("%w: AES-GCM ciphertext of %d bytes is too short", ErrDecrypt, len(data))
		}
	case cbcMethods[alg]:
		if len(data) < 2*16 || len(data)%16 != 0 { // IV + at least one block
			return fmt.Errorf("%w: AES-CBC ciphertext of %d bytes is not whole blocks after the IV", ErrDecrypt, len(data))
		}
	default:
		return fmt.Errorf("%w: content encryption %q is not accepted (AES-GCM or AES-CBC)", ErrDecrypt, alg)
	}
	return nil
}
