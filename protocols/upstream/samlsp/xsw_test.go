package samlsp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// evilCopy is the signed assertion rewritten for mallory, without its
// signature, under a new ID.
func evilCopy(t *testing.T, signed *etree.Element, id string) *etree.Element {
	t.Helper()
	evil := signed.Copy()
	if s := child(evil, "Signature"); s != nil {
		evil.RemoveChild(s)
	}
	evil.CreateAttr("ID", id)
	nameID := evil.FindElement(".//NameID")
	if nameID == nil {
		t.Fatal("no NameID")
	}
	nameID.SetText("mallory-0666")
	for _, v := range evil.FindElements(".//AttributeValue") {
		if v.Text() == "alice@example.com" {
			v.SetText("mallory@example.com")
		}
	}
	return evil
}

// insertAt puts c among el's children at the position of ref (before it).
func insertBefore(el, ref, c *etree.Element) {
	el.InsertChildAt(ref.Index(), c)
}

// The classic XML signature wrapping variants, built from a genuine
// response. Each one keeps a validly signed assertion somewhere in the
// document and puts mallory's unsigned one where a careless consumer reads.
func TestSignatureWrappingRefused(t *testing.T) {
	_, sp, f, reqID := plainLogin(t, nil)

	variants := map[string]func(root, signed *etree.Element){
		// XSW1: an unsigned evil assertion before the signed one.
		"evil assertion before": func(root, signed *etree.Element) {
			insertBefore(root, signed, evilCopy(t, signed, "id-evil"))
		},
		// XSW2: after it.
		"evil assertion after": func(root, signed *etree.Element) {
			root.AddChild(evilCopy(t, signed, "id-evil"))
		},
		// XSW3: the evil assertion wraps the signed one and takes its place.
		"evil assertion around": func(root, signed *etree.Element) {
			evil := evilCopy(t, signed, "id-evil")
			root.RemoveChild(signed)
			evil.AddChild(signed)
			root.AddChild(evil)
		},
		// XSW3 with the signed assertion's ID, so the signature's Reference
		// resolves to the evil element.
		"evil assertion around, same ID": func(root, signed *etree.Element) {
			evil := evilCopy(t, signed, signed.SelectAttrValue("ID", ""))
			root.RemoveChild(signed)
			evil.AddChild(signed)
			root.AddChild(evil)
		},
		// XSW: the signed assertion moved into samlp:Extensions, the evil
		// one in its place.
		"signed assertion in Extensions": func(root, signed *etree.Element) {
			evil := evilCopy(t, signed, "id-evil")
			root.RemoveChild(signed)
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(signed)
			root.InsertChildAt(child(root, "Issuer").Index()+1, ext)
			root.AddChild(evil)
		},
		// XSW: the evil assertion under the signed one's ID carries the
		// original signature, whose ds:Object holds the signed assertion.
		"signed assertion in ds:Object": func(root, signed *etree.Element) {
			evil := evilCopy(t, signed, signed.SelectAttrValue("ID", ""))
			sig := child(signed, "Signature").Copy()
			obj := sig.CreateElement("ds:Object")
			obj.AddChild(signed.Copy())
			evil.InsertChildAt(child(evil, "Issuer").Index()+1, sig)
			root.RemoveChild(signed)
			root.AddChild(evil)
		},
		// The evil content under the original signature, unchanged.
		"evil content, original signature": func(root, signed *etree.Element) {
			evil := evilCopy(t, signed, signed.SelectAttrValue("ID", ""))
			evil.InsertChildAt(child(evil, "Issuer").Index()+1, child(signed, "Signature").Copy())
			root.RemoveChild(signed)
			root.AddChild(evil)
		},
	}

	for _, keepResponseSig := range []bool{true, false} {
		for name, build := range variants {
			mode := "response signature removed"
			if keepResponseSig {
				mode = "response signature kept"
			}
			t.Run(name+"/"+mode, func(t *testing.T) {
				doc := parseDoc(t, f.SAMLResponse)
				root := doc.Root()
				if !keepResponseSig {
					stripSig(t, root)
				}
				build(root, child(root, "Assertion"))
				id, _, err := sp.ParseResponse(encodeDoc(t, doc), reqID, time.Now())
				if err == nil {
					t.Fatalf("accepted as %+v", id)
				}
				if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrNotSigned) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("refused for an unexpected reason: %v", err)
				}
				if id.Subject != "" {
					t.Fatalf("identity returned with the error: %+v", id)
				}
				t.Logf("refused: %v", err)
			})
		}
	}

	// The whole signed Response wrapped in an evil one's Extensions.
	for _, sameID := range []bool{false, true} {
		doc := parseDoc(t, f.SAMLResponse)
		orig := doc.Root()
		evil := orig.Copy()
		evil.RemoveChild(child(evil, "Signature"))
		signed := child(evil, "Assertion")
		evil.RemoveChild(signed)
		if !sameID {
			evil.CreateAttr("ID", "id-evil-response")
		}
		ext := etree.NewElement("samlp:Extensions")
		ext.AddChild(orig)
		evil.InsertChildAt(child(evil, "Issuer").Index()+1, ext)
		ev := evilCopy(t, signed, "id-evil")
		evil.AddChild(ev)
		doc.SetRoot(evil)
		_, _, err := sp.ParseResponse(encodeDoc(t, doc), reqID, time.Now())
		if err == nil || !(errors.Is(err, ErrSignature) || errors.Is(err, ErrNotSigned)) {
			t.Fatalf("response wrapping (same ID %v): %v", sameID, err)
		}
		t.Logf("response wrapping (same ID %v) refused: %v", sameID, err)
	}

	// The genuine one still passes: the refusals above are about wrapping.
	if id, _, err := sp.ParseResponse(f.SAMLResponse, reqID, time.Now()); err != nil || !strings.HasPrefix(id.Subject, "alice") {
		t.Fatalf("genuine response: %+v %v", id, err)
	}
}
