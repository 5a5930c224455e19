package haproxy

import (
	"os"
	"strings"
	"testing"
)

// docs/operations.md shows the configuration Config makes, so that the
// example operators copy is the one the tests run.
func TestTheDocumentedExampleIsWhatConfigMakes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	want := Config("0.0.0.0:443", "", []Backend{{"n1", "10.0.0.11:8443"}, {"n2", "10.0.0.12:8443"}, {"n3", "10.0.0.13:8443"}})
	if !strings.Contains(string(doc), want) {
		t.Fatalf("docs/operations.md does not hold the example configuration; put this there:\n%s", want)
	}
}
