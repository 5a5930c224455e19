package samlsp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/russellhaering/gosaml2/types"
)

// A comment inside a signed NameID changes nothing the signature covers
// (exclusive C14N drops comments), so an SP that reads only the first text
// node would take "alice@example.com<!---->.evil.com" for alice@example.com
// (the 2018 Duo class of bugs). We must read the whole value.
func TestNameIDCommentReadWhole(t *testing.T) {
	testKeys(t)
	ti := newTestIdP(t, nil)
	ti.session.NameID = "alice@example.com.evil.com"
	ti.session.NameIDFormat = nameIDFormatEmail
	sp := mustSP(t, ti.config())
	ti.setSP(t, sp, plainOnly)
	f, reqID := ti.login(t, sp)

	raw := decodeXML(t, f.SAMLResponse)
	if !strings.Contains(raw, "alice@example.com.evil.com</") {
		t.Fatalf("NameID not found in %s", raw)
	}
	commented := encodeB64(strings.Replace(raw, "alice@example.com.evil.com</", "alice@example.com<!---->.evil.com</", 1))
	id, _, err := sp.ParseResponse(commented, reqID, time.Now())
	if err != nil {
		t.Fatalf("a comment is not a change of the signed content, want accepted: %v", err)
	}
	if id.Subject != "alice@example.com.evil.com" || id.Email != "alice@example.com.evil.com" {
		t.Fatalf("the comment truncated the identity: subject %q email %q", id.Subject, id.Email)
	}
}

// encryptedResponse replaces the assertion of a genuine response with an
// EncryptedAssertion anyone can make (our certificate is public), with the
// given key transport and content algorithms and ciphertext.
func encryptedResponse(t *testing.T, sp *SP, b64, keyAlg, dataAlg string, ciphertext []byte) string {
	t.Helper()
	doc := parseDoc(t, b64)
	root := doc.Root()
	stripSig(t, root)
	root.RemoveChild(child(root, "Assertion"))
	aesKey := make([]byte, 16)
	rand.Read(aesKey)
	pub := sp.cert.PublicKey.(*rsa.PublicKey)
	var wrapped []byte
	var err error
	if keyAlg == types.MethodRSAv1_5 {
		wrapped, err = rsa.EncryptPKCS1v15(rand.Reader, pub, aesKey)
	} else {
		wrapped, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, aesKey, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if ciphertext == nil { // a real AES-CBC encryption of a broken assertion
		blk, _ := aes.NewCipher(aesKey)
		pt := []byte(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="x"><unclosed>`)
		pad := 16 - len(pt)%16
		for range pad {
			pt = append(pt, byte(pad))
		}
		ciphertext = make([]byte, 16+len(pt))
		rand.Read(ciphertext[:16])
		cipher.NewCBCEncrypter(blk, ciphertext[:16]).CryptBlocks(ciphertext[16:], pt)
	}
	ea := etree.NewElement("saml:EncryptedAssertion")
	ea.CreateAttr("xmlns:saml", nsAssertion)
	ed := ea.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", dataAlg)
	ki := ed.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", "http://www.w3.org/2000/09/xmldsig#")
	ek := ki.CreateElement("xenc:EncryptedKey")
	ek.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", keyAlg)
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(ciphertext))
	root.AddChild(ea)
	return encodeDoc(t, doc)
}

func TestEncryptedAssertionAlgorithmsAndLengths(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	cases := []struct {
		name, keyAlg, dataAlg string
		ciphertext            []byte
		words                 string
	}{
		// Bleichenbacher: PKCS#1 v1.5 key transport is refused before any
		// RSA decryption with our key.
		{"rsa-1_5", types.MethodRSAv1_5, types.MethodAES128CBC, nil, "RSA 1.5 is refused"},
		{"3des", types.MethodRSAOAEP, types.MethodTripleDESCBC, nil, "is not accepted"},
		// gosaml2 slices the GCM nonce and the CBC IV without a length
		// check: these panicked the request.
		{"short gcm", types.MethodRSAOAEP, types.MethodAES128GCM, []byte("abc"), "too short"},
		{"empty cbc", types.MethodRSAOAEP, types.MethodAES128CBC, []byte{}, "whole blocks"},
		// A decryption that works but yields junk reads exactly like one
		// that fails (no oracle).
		{"junk plaintext", types.MethodRSAOAEP, types.MethodAES128CBC, nil, "does the IdP hold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := encryptedResponse(t, sp, f.SAMLResponse, tc.keyAlg, tc.dataAlg, tc.ciphertext)
			_, _, err := sp.ParseResponse(resp, reqID, time.Now())
			refused(t, err, ErrDecrypt, tc.words)
		})
	}
	// The opaque answer is one text whatever failed after the checks.
	short := make([]byte, 32)
	_, _, err1 := sp.ParseResponse(encryptedResponse(t, sp, f.SAMLResponse, types.MethodRSAOAEP, types.MethodAES128CBC, short), reqID, time.Now())
	_, _, err2 := sp.ParseResponse(encryptedResponse(t, sp, f.SAMLResponse, types.MethodRSAOAEP, types.MethodAES128CBC, nil), reqID, time.Now())
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("bad padding and junk plaintext must read the same:\n%v\n%v", err1, err2)
	}
}

func TestXMLBombsAndDepthRefused(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)
	raw := decodeXML(t, f.SAMLResponse)
	body := raw
	if i := strings.Index(raw, "?>"); strings.HasPrefix(raw, "<?xml") && i > 0 {
		body = raw[i+2:]
	}
	bomb := `<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>` + body
	_, _, err := sp.ParseResponse(encodeB64(bomb), reqID, time.Now())
	refused(t, err, ErrMalformed, "DOCTYPE")

	deep := strings.Replace(body, "</samlp:Response>",
		strings.Repeat("<x>", 200)+strings.Repeat("</x>", 200)+"</samlp:Response>", 1)
	if deep == body {
		t.Fatal("no closing samlp:Response in the test response")
	}
	_, _, err = sp.ParseResponse(encodeB64(deep), reqID, time.Now())
	refused(t, err, ErrMalformed, "nested deeper")

	pi := strings.Replace(body, "</samlp:Response>", "<?evil x?></samlp:Response>", 1)
	_, _, err = sp.ParseResponse(encodeB64(pi), reqID, time.Now())
	refused(t, err, ErrMalformed, "processing instruction")
}
