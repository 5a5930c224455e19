package ldapup

import (
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// FuzzFilterValue: for any username the login accepts, the filter built
// from each template compiles, has exactly the shape it has with a plain
// name, and carries the username, byte for byte, as the one assertion
// value. Whatever the name holds, it cannot add, remove or change a filter
// element.
func FuzzFilterValue(f *testing.F) {
	for _, s := range []string{"alice", "*", "alice)(uid=*", "*)(|(uid=*", `\`, `\2a`, "(", ")", "a*b*c", "é", "%s", "%", "\x00", `weird(*)\user`} {
		f.Add(s)
	}
	templates := []string{
		"(uid=%s)",
		"(&(objectClass=person)(sAMAccountName=%s))",
		"(&(|(objectClass=inetOrgPerson)(objectClass=user))(!(disabled=TRUE))(mail=%s))",
	}
	plain := make([]*ber.Packet, len(templates))
	for i, tmpl := range templates {
		p, err := ldap.CompileFilter(buildFilter(tmpl, "x"))
		if err != nil {
			f.Fatal(err)
		}
		plain[i] = p
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkUsername(name) != nil {
			return
		}
		for i, tmpl := range templates {
			filter := buildFilter(tmpl, name)
			p, err := ldap.CompileFilter(filter)
			if err != nil {
				t.Fatalf("%q in %s: %s does not compile: %v", name, tmpl, filter, err)
			}
			var values []string
			if !sameShape(plain[i], p, &values) {
				t.Fatalf("%q in %s: %s has another structure", name, tmpl, filter)
			}
			found := false
			for _, v := range values {
				if v == name {
					found = true
				}
			}
			if !found {
				t.Fatalf("%q in %s: assertion values %q", name, tmpl, values)
			}
		}
	})
}

// sameShape compares two compiled filters tag by tag and child by child,
// ignoring leaf values; it collects b's equality assertion values.
func sameShape(a, b *ber.Packet, values *[]string) bool {
	if a.ClassType != b.ClassType || a.TagType != b.TagType || a.Tag != b.Tag || len(a.Children) != len(b.Children) {
		return false
	}
	if b.ClassType == ber.ClassContext && b.Tag == ldap.FilterEqualityMatch && len(b.Children) == 2 {
		*values = append(*values, string(b.Children[1].Data.Bytes()))
	}
	for i := range a.Children {
		if !sameShape(a.Children[i], b.Children[i], values) {
			return false
		}
	}
	return true
}
