package samlsp

import (
	"testing"
	"time"
)

// FuzzParseResponse feeds any bytes as the SAMLResponse form value: it must
// never panic, and what it accepts must be what the IdP signed (nobody else
// holds the IdP key). Each fuzz worker starts by making its RSA keys and one
// real login, which takes seconds on a loaded machine before execs count.
func FuzzParseResponse(f *testing.F) {
	_, sp, form, reqID := plainLogin(f, nil)
	// The genuine response and a tampered, an unsigned and a wrapped one.
	f.Add(form.SAMLResponse)
	doc := parseDoc(f, form.SAMLResponse)
	stripSig(f, doc.Root())
	f.Add(encodeDoc(f, doc))
	a := child(doc.Root(), "Assertion")
	stripSig(f, a)
	f.Add(encodeDoc(f, doc))
	doc.Root().AddChild(a.Copy())
	f.Add(encodeDoc(f, doc))
	f.Add(encodeB64(decodeXML(f, form.SAMLResponse)[:200]))

	now := time.Now()
	f.Fuzz(func(t *testing.T, samlResponse string) {
		for _, want := range []string{reqID, "_fuzz-request", ""} {
			id, as, err := sp.ParseResponse(samlResponse, want, now)
			if err != nil {
				if id.Subject != "" || as.ID != "" {
					t.Fatalf("identity returned with error %v", err)
				}
				continue
			}
			// Whatever is accepted must be the IdP's signed statement about
			// alice, answering our request: no mutation may change who.
			if want != reqID || id.Subject != "alice-0001" || id.Email != "alice@example.com" {
				t.Fatalf("accepted something the IdP did not sign: %+v for request %q", id, want)
			}
			if id.Subject == "" || as.ID == "" || as.NotOnOrAfter.IsZero() {
				t.Fatalf("accepted without subject or assertion id: %+v %+v", id, as)
			}
		}
	})
}
