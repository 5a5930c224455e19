package spnego

import (
	"testing"

	"github.com/gatehouse-idm/gatehouse/protocols/spnego/spnegotest"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"
)

const (
	realm = spnegotest.Realm
	svc   = spnegotest.Service
)

var oidNTLM = spnegotest.OIDNTLM

type mintOpts = spnegotest.Options

func serviceKeytab(t testing.TB, kvnos ...uint8) *keytab.Keytab {
	t.Helper()
	kt, err := spnegotest.Keytab(kvnos...)
	if err != nil {
		t.Fatal(err)
	}
	return kt
}

func mint(t testing.TB, o mintOpts) ([]byte, types.EncryptionKey) {
	t.Helper()
	b, key, err := spnegotest.Mint(o)
	if err != nil {
		t.Fatal(err)
	}
	return b, key
}

func header(b []byte) string { return spnegotest.Header(b) }
