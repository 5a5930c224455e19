package badlist

import (
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/pwquality"
)

func TestTheDefaultBadlistIsCleanAndHoldsOnlyPasswordsTheRulesWouldAccept(t *testing.T) {
	pws, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(pws) < 10000 {
		t.Fatalf("the default badlist has %d passwords; expected tens of thousands", len(pws))
	}
	seen := map[string]bool{}
	for _, p := range pws {
		if p != strings.ToLower(p) || strings.TrimSpace(p) != p || seen[p] {
			t.Fatalf("%q is not lower-case, trimmed and unique", p)
		}
		seen[p] = true
	}
	// Re-filtering all of it takes seconds; a spread sample shows the file
	// is what gen/ makes, i.e. nothing zxcvbn or the length rule rejects.
	var sample []string
	for i := 0; i < len(pws); i += len(pws) / 200 {
		sample = append(sample, pws[i])
	}
	if got := pwquality.Filter(sample, 2, nil); len(got) != len(sample) {
		t.Fatalf("%d of %d sampled passwords would have been filtered out", len(sample)-len(got), len(sample))
	}
	// Each is refused by the rule it exists for, and only by it.
	if err := pwquality.Check(nil, sample[0], 10, nil); err != nil {
		t.Fatalf("%q should pass zxcvbn and the length rule: %v", sample[0], err)
	}
}
