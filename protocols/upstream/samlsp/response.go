package samlsp

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	rtvalidator "github.com/mattermost/xml-roundtrip-validator"
	"github.com/russellhaering/gosaml2/types"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"

	statusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"
	methodBearer  = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

	// maxResponseSize bounds the form value before any decoding: real
	// responses are a few KiB, and XML parsing cost grows with size.
	maxResponseSize = 1 << 20

	// clockSkew is how far the IdP's clock may run ahead of ours for
	// NotBefore. NotOnOrAfter gets none: IdPs already give minutes of
	// validity, and the replay cache relies on the exact end.
	clockSkew = 2 * time.Minute
)

// Assertion is what the caller's replay cache needs: the assertion id is
// claimed once across the cluster until NotOnOrAfter, after which
// ParseResponse refuses it as expired anyway.
type Assertion struct {
	ID           string
	NotOnOrAfter time.Time
}

// ParseResponse checks an HTTP-POST binding SAMLResponse (the base64 form
// value) against the request it answers (expectedRequestID, from
// AuthnRequestURL) at time now, and returns who the IdP vouches for.
//
// Refused, each with an error wrapping one of the Err values: malformed
// XML; no IdP signature over the assertion (unless AllowUnsignedAssertions);
// an invalid signature; a plain assertion when RequireEncryptedAssertions; an
// assertion we cannot decrypt; an Issuer other than the IdP entity id; a
// non-success status; a Destination or Recipient other than our ACS URL; an
// InResponseTo other than expectedRequestID, or none (IdP-initiated logins
// are not accepted); outside NotBefore/NotOnOrAfter; an audience without our
// entity id. Replay is the caller's check, keyed by the returned Assertion.
//
// Signature wrapping: the assertion's content is read only from the element
// goxmldsig returns after verifying it (or from the verified Response that
// contains it), never from the received tree, and exactly one assertion is
// allowed as a direct child of the Response.
func (sp *SP) ParseResponse(samlResponse string, expectedRequestID string, now time.Time) (upstream.Identity, Assertion, error) {
	a, err := sp.verifiedAssertion(samlResponse, expectedRequestID, now)
	if err != nil {
		return upstream.Identity{}, Assertion{}, fmt.Errorf("saml: %w", err)
	}
	return identityOf(a.assertion), Assertion{ID: a.assertion.ID, NotOnOrAfter: a.notOnOrAfter}, nil
}

// checked is an assertion that passed every check.
type checked struct {
	assertion    *xmlAssertion
	notOnOrAfter time.Time
}

func (sp *SP) verifiedAssertion(encoded, expectedRequestID string, now time.Time) (*checked, error) {
	root, err := decodeResponse(encoded)
	if err != nil {
		return nil, err
	}
	vctx := dsig.NewDefaultValidationContext(sp.idpStore)
	vctx.Clock = dsig.NewFakeClockAt(now)

	// The Response: if signed, continue with the element goxmldsig
	// verified; if not, its attributes are read but nothing from them is
	// trusted beyond "refuse when they disagree".
	resp := root
	responseSigned := false
	switch v, err := vctx.Validate(root); {
	case err == nil:
		resp, responseSigned = v, true
	case errors.Is(err, dsig.ErrMissingSignature):
	default:
		return nil, fmt.Errorf("%w: response: %v", ErrSignature, err)
	}

	el, encrypted, err := soleAssertion(resp)
	if err != nil {
		return nil, err
	}
	if sp.cfg.RequireEncryptedAssertions && !encrypted {
		return nil, fmt.Errorf("%w: the IdP sent a plain assertion and this provider requires encrypted ones", ErrNotEncrypted)
	}
	if encrypted {
		if el, err = sp.decrypt(el); err != nil {
			return nil, err
		}
	} else {
		ctx, err := etreeutils.NSBuildParentContext(el)
		if err == nil {
			el, err = etreeutils.NSDetatch(ctx, el)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: assertion: %v", ErrMalformed, err)
		}
	}

	// The assertion's own signature, if any, is checked even inside a signed
	// Response; either signature makes its content trustworthy.
	switch v, err := vctx.Validate(el); {
	case err == nil:
		el = v
	case errors.Is(err, dsig.ErrMissingSignature):
		if !responseSigned && !sp.cfg.AllowUnsignedAssertions {
			return nil, fmt.Errorf("%w: neither the response nor the assertion carries an IdP signature", ErrNotSigned)
		}
	default:
		return nil, fmt.Errorf("%w: assertion: %v", ErrSignature, err)
	}

	var a xmlAssertion
	if err := unmarshalElement(el, &a); err != nil {
		return nil, fmt.Errorf("%w: assertion: %v", ErrMalformed, err)
	}
	var r xmlResponse
	if err := unmarshalElement(resp, &r); err != nil {
		return nil, fmt.Errorf("%w: response: %v", ErrMalformed, err)
	}
	na, err := sp.checkResponse(&r, &a, responseSigned, expectedRequestID, now)
	if err != nil {
		return nil, err
	}
	return &checked{assertion: &a, notOnOrAfter: na}, nil
}

// decodeResponse turns the form value into the Response element.
func decodeResponse(encoded string) (*etree.Element, error) {
	if len(encoded) > maxResponseSize {
		return nil, fmt.Errorf("%w: %d bytes is too large", ErrMalformed, len(encoded))
	}
	// IdPs may wrap the base64 at 76 columns.
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\n', '\r', '\t':
			return -1
		}
		return r
	}, encoded)
	raw, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %v", ErrMalformed, err)
	}
	if err := prescanXML(raw); err != nil {
		return nil, err
	}
	// Refuse XML that encoding/xml would not read back the same way: the
	// signature is checked over one reading and the content over another.
	if err := rtvalidator.Validate(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Response" || root.NamespaceURI() != nsProtocol {
		return nil, fmt.Errorf("%w: not a samlp:Response", ErrMalformed)
	}
	return root, nil
}

// soleAssertion finds the one Assertion or EncryptedAssertion directly under
// the Response. More than one is refused: which one a consumer reads is
// exactly what wrapping attacks play on.
func soleAssertion(resp *etree.Element) (el *etree.Element, encrypted bool, err error) {
	n := 0
	for _, c := range resp.ChildElements() {
		if c.NamespaceURI() != nsAssertion {
			continue
		}
		switch c.Tag {
		case "Assertion":
			el, encrypted = c, false
			n++
		case "EncryptedAssertion":
			el, encrypted = c, true
			n++
		}
	}
	if n != 1 {
		return nil, false, fmt.Errorf("%w: %d assertions in the response, want exactly 1", ErrMalformed, n)
	}
	return el, encrypted, nil
}

// decrypt opens an EncryptedAssertion with the SP key and returns the
// assertion as a detached element of its own document.
func (sp *SP) decrypt(encEl *etree.Element) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(encEl)
	if err == nil {
		encEl, err = etreeutils.NSDetatch(ctx, encEl)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	var ea types.EncryptedAssertion
	if err := unmarshalElement(encEl, &ea); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	if err := checkEncryption(&ea); err != nil {
		return nil, err
	}
	// From here on every failure reads the same: which step failed (key
	// unwrap, padding, parse of the plaintext) must not be told apart, or
	// the answers become a padding or Bleichenbacher-style oracle for
	// whoever replays a captured ciphertext with changes.
	raw, err := sp.decryptBytes(&ea)
	if err != nil {
		return nil, errDecryptOpaque
	}
	if prescanXML(raw) != nil || rtvalidator.Validate(bytes.NewReader(raw)) != nil {
		return nil, errDecryptOpaque
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, errDecryptOpaque
	}
	root := doc.Root()
	if root == nil || root.Tag != "Assertion" || root.NamespaceURI() != nsAssertion {
		return nil, errDecryptOpaque
	}
	return root, nil
}

// errDecryptOpaque is the one answer for every failure after the
// algorithm checks (see decrypt).
var errDecryptOpaque = fmt.Errorf("%w (does the IdP hold this provider's current SP certificate?)", ErrDecrypt)

// decryptBytes runs gosaml2's decryption, turning a panic of the library
// on crafted input into an error: checkEncryption covers the cases we
// know of, this covers the ones we do not.
func (sp *SP) decryptBytes(ea *types.EncryptedAssertion) (raw []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			raw, err = nil, fmt.Errorf("decryption panicked: %v", r)
		}
	}()
	return ea.DecryptBytes(&tls.Certificate{Certificate: [][]byte{sp.cert.Raw}, PrivateKey: sp.key})
}

// unmarshalElement reads an etree element into a Go struct via its bytes.
func unmarshalElement(el *etree.Element, v any) error {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	b, err := doc.WriteToBytes()
	if err != nil {
		return err
	}
	return xml.Unmarshal(b, v)
}
