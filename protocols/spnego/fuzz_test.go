package spnego

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/gssapi"
)

// The seed corpus under testdata/fuzz/FuzzNegotiate holds real tokens,
// minted by TestFuzzSeeds with -update-fuzz-seeds at fuzzNow against the
// deterministic key of serviceKeytab(1), so the fuzzer starts from tokens
// that decrypt and are accepted and mutates from there.
var updateSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite the FuzzNegotiate seed corpus")

var fuzzNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var seedDir = filepath.Join("testdata", "fuzz", "FuzzNegotiate")

func fuzzAcceptor(t testing.TB) *Acceptor {
	a := acceptor(serviceKeytab(t, 1))
	a.Now = func() time.Time { return fuzzNow }
	a.Replay = func(context.Context, string, time.Duration) bool { return true }
	return a
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "Negotiate", "Negotiate ", "negotiate YA==", "Basic eDp5", "Negotiate oQcwBaADCgEC",
		"Negotiate oRQwEqADCgEBoQsGCSqGSIb3EgECAg==", "Negotiate YIIBAA==", "Negotiate YAsGCSqGSIb3EgECAg=="} {
		f.Add(s)
	}
	a := fuzzAcceptor(f)
	f.Fuzz(func(t *testing.T, h string) {
		res, err := a.Accept(context.Background(), h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" || e.Msg == "" {
				t.Fatalf("untyped refusal %T %v", err, err)
			}
			return
		}
		if res.Principal == "" || res.Realm == "" || !strings.HasSuffix(res.Principal, "@"+res.Realm) {
			t.Fatalf("accepted without a principal: %+v", res)
		}
	})
}

// TestFuzzSeeds checks that the committed corpus holds real tokens that
// are still accepted (or refused for their stated reason), and rewrites it
// with -update-fuzz-seeds.
func TestFuzzSeeds(t *testing.T) {
	seeds := map[string]mintOpts{
		"valid-spnego":        {At: fuzzNow},
		"valid-mutual":        {At: fuzzNow, Mutual: true},
		"valid-raw-krb5":      {At: fuzzNow, Raw: true},
		"valid-second-leg":    {At: fuzzNow, Resp: true},
		"refused-ntlm-first":  {At: fuzzNow, Mechs: []asn1.ObjectIdentifier{oidNTLM, gssapi.OIDKRB5.OID()}},
		"refused-wrong-realm": {At: fuzzNow, CRealm: "EVIL.ORG"},
		"refused-tampered":    {At: fuzzNow, TamperAuth: true},
		"refused-expired":     {At: fuzzNow, Start: fuzzNow.Add(-11 * time.Hour), End: fuzzNow.Add(-time.Hour)},
	}
	if *updateSeeds {
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, o := range seeds {
			b, _ := mint(t, o)
			body := fmt.Sprintf("go test fuzz v1\nstring(%s)\n", strconv.Quote(header(b)))
			if err := os.WriteFile(filepath.Join(seedDir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := fuzzAcceptor(t)
	for name := range seeds {
		b, err := os.ReadFile(filepath.Join(seedDir, name))
		if err != nil {
			t.Fatalf("seed %s missing (go test ./protocols/spnego -run TestFuzzSeeds -update-fuzz-seeds): %v", name, err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("seed %s: not a fuzz corpus file", name)
		}
		h, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		_, err = a.Accept(context.Background(), h)
		if strings.HasPrefix(name, "valid-") != (err == nil) {
			t.Fatalf("seed %s: %v", name, err)
		}
	}
}
