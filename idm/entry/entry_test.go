package entry

import (
	"strings"
	"testing"
)

func TestNameRules(t *testing.T) {
	good := []string{"alice", "a", "bob_smith", "ops-team", "j.doe", "x1", strings.Repeat("a", MaxNameLen)}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("%q refused: %v", n, err)
		}
	}
	bad := map[string]string{
		"":                                     "empty",
		"Alice":                                "lower-case",
		"1alice":                               "start with",
		"alice@example.com":                    "may only hold",
		"al ice":                               "may only hold",
		"ålice":                                "start with",
		strings.Repeat("a", 65):                "longer",
		"abcdef01-2345-4789-8abc-def012345678": "looks like a uuid",
	}
	for n, want := range bad {
		err := ValidateName(n)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateName(%q) = %v, want an error saying %q", n, err, want)
		}
	}
}

func TestEntryValidation(t *testing.T) {
	e := &Entry{UUID: "abcdef01-2345-4789-8abc-def012345678", Class: Person, Name: "alice", Mail: []string{"a@example.com"}}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*Entry){
		"bad uuid":           func(e *Entry) { e.UUID = "nope" },
		"bad class":          func(e *Entry) { e.Class = "robot" },
		"bad mail":           func(e *Entry) { e.Mail = []string{"not-an-address"} },
		"control character":  func(e *Entry) { e.DisplayName = "a\x00b" },
		"person with member": func(e *Entry) { e.Members = []string{e.UUID} },
		"group password":     func(e *Entry) { e.Class, e.PasswordHash = Group, "$argon2id$..." },
	}
	for name, mutate := range cases {
		c := e.Clone()
		mutate(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBuiltinsAreValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range Builtins(1) {
		if err := b.Validate(); err != nil {
			t.Errorf("builtin %s: %v", b.Name, err)
		}
		if seen[b.UUID] || seen[b.Name] {
			t.Errorf("builtin %s repeats a uuid or name", b.Name)
		}
		seen[b.UUID], seen[b.Name] = true, true
	}
}
