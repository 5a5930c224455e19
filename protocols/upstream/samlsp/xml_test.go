package samlsp

import (
	"encoding/base64"
	"testing"

	"github.com/beevik/etree"
)

func decodeXML(t testing.TB, b64 string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	return string(raw)
}

func parseDoc(t testing.TB, b64 string) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(decodeXML(t, b64)); err != nil {
		t.Fatalf("xml: %v", err)
	}
	return doc
}

func encodeDoc(t testing.TB, doc *etree.Document) string {
	t.Helper()
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatalf("xml: %v", err)
	}
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// child returns the first direct child of el with this local name.
func child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

// stripSig removes el's own enveloped ds:Signature.
func stripSig(t testing.TB, el *etree.Element) {
	t.Helper()
	s := child(el, "Signature")
	if s == nil {
		t.Fatalf("%s has no Signature", el.Tag)
	}
	el.RemoveChild(s)
}

func encodeB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
