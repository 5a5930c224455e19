package integration

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// tamperSAML decodes the IdP's SAMLResponse, lets f change the document
// (root is the samlp:Response) and encodes it again.
func tamperSAML(t *testing.T, response string, f func(root *etree.Element)) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(response)
	if err != nil {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatalf("SAMLResponse is not XML: %v", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Response" {
		t.Fatalf("SAMLResponse root: %v", root)
	}
	f(root)
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

// directChild is el's first child element with local name tag.
func directChild(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

// stripSignatures removes every ds:Signature of the document: what is
// left is a well-formed, entirely unsigned response.
func stripSignatures(t *testing.T, root *etree.Element) {
	t.Helper()
	sigs := root.FindElements("//Signature")
	if len(sigs) == 0 {
		t.Fatal("the IdP's response carries no signature to strip")
	}
	for _, s := range sigs {
		s.Parent().RemoveChild(s)
	}
}

// wrapEvilAssertion is the XSW1 attack: the response's own signature is
// dropped (so the response is not signed as a whole), the IdP's signed
// assertion is kept untouched, and an unsigned copy rewritten for mallory
// under a new ID is inserted before it, where a consumer that reads the
// first assertion would take it.
func wrapEvilAssertion(t *testing.T, root *etree.Element) {
	t.Helper()
	if s := directChild(root, "Signature"); s != nil {
		root.RemoveChild(s)
	}
	signed := directChild(root, "Assertion")
	if signed == nil || directChild(signed, "Signature") == nil {
		t.Fatal("no signed assertion in the IdP's response (is the SP set to plain, unencrypted?)")
	}
	root.InsertChildAt(signed.Index(), evilAssertion(t, signed))
}

// evilAssertion is an unsigned copy of the signed assertion, rewritten
// for mallory under a new ID.
func evilAssertion(t *testing.T, signed *etree.Element) *etree.Element {
	t.Helper()
	evil := signed.Copy()
	evil.RemoveChild(directChild(evil, "Signature"))
	evil.CreateAttr("ID", "id-evil-0666")
	nameID := evil.FindElement(".//NameID")
	if nameID == nil {
		t.Fatal("no NameID in the assertion")
	}
	nameID.SetText("mallory-0666")
	for _, v := range evil.FindElements(".//AttributeValue") {
		switch {
		case strings.Contains(v.Text(), "@"):
			v.SetText("mallory@example.com")
		case v.Text() != "":
			v.SetText("mallory")
		}
	}
	return evil
}

// hideSignedAssertion is the XSW variant that keeps one assertion where
// the schema expects it: the signed assertion moves into
// samlp:Extensions (the response signature dropped), mallory's unsigned
// one takes its place.
func hideSignedAssertion(t *testing.T, root *etree.Element) {
	t.Helper()
	if s := directChild(root, "Signature"); s != nil {
		root.RemoveChild(s)
	}
	signed := directChild(root, "Assertion")
	issuer := directChild(root, "Issuer")
	if signed == nil || issuer == nil {
		t.Fatal("no assertion or issuer in the IdP's response")
	}
	evil := evilAssertion(t, signed)
	at := signed.Index()
	root.RemoveChild(signed)
	root.InsertChildAt(at, evil)
	ext := etree.NewElement("samlp:Extensions")
	ext.AddChild(signed)
	root.InsertChildAt(issuer.Index()+1, ext)
}

// samlRefusals posts doctored versions of genuine crewjam responses to
// the ACS: each is refused with the reason in words, and no session and
// no account come of it.
func samlRefusals(t *testing.T, e *ssoEnv, idp *samlIdP, id string) {
	begin := func(b *browser) samlForm {
		t.Helper()
		st, body := b.get("https://localhost/ui/sso/login/" + id)
		if st != http.StatusOK {
			t.Fatalf("begin: %d %s", st, body)
		}
		return parseSAMLForm(t, body)
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, root *etree.Element)
		words  []string // one of them must be in the page
	}{
		{"unsigned response", stripSignatures, []string{"not signed"}},
		{"signature-wrapped response (evil assertion before the signed one)", wrapEvilAssertion,
			[]string{"not signed", "signature", "malformed"}},
		{"signature-wrapped response (signed assertion hidden in Extensions)", hideSignedAssertion,
			[]string{"not signed", "signature", "malformed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := e.browser()
			f := begin(b)
			f.response = tamperSAML(t, f.response, func(root *etree.Element) { c.tamper(t, root) })
			st, body := b.postSAML(f, idp.srv.URL, nil)
			low := strings.ToLower(body)
			found := false
			for _, w := range c.words {
				found = found || strings.Contains(low, w)
			}
			if st != http.StatusBadRequest || !found {
				t.Fatalf("want 400 naming one of %q, got %d %s", c.words, st, body)
			}
			if i := strings.Index(body, "failed:"); i >= 0 {
				t.Logf("refused: %s", body[i:min(len(body), i+160)])
			}
			if l := b.legs[len(b.legs)-1]; l.Node == "" {
				t.Fatalf("the ACS answer names no node: %+v", b.legs)
			}
			if name, _, ok := b.session(); ok {
				t.Fatalf("a refused response gave a session for %q", name)
			}
			e.sync2()
			if _, ok := e.person("mallory"); ok {
				t.Fatal("an account named mallory was created from the evil assertion")
			}
		})
	}
}
