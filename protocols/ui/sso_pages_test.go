package ui

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The SSO admin and account pages render with their scripts, no inline
// script, and every label pointing at an existing control.
func TestSSOPagesRender(t *testing.T) {
	h := newHandler()
	cases := map[string][]string{
		"/ui/sso/admin": {"/ui/static/sso_admin.js", "Identity providers", `<label for="p-discovery-url">`, `<label for="p-idp-cert">`,
			`<label for="p-bind-dn">`, "Ensure at least one admin has SSO access before disabling", "Pending approval"},
		"/ui/account": {"/ui/static/account.js", "Linked accounts", "Link another provider"},
	}
	labelFor := regexp.MustCompile(`<label for="([^"]+)"`)
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>|\son[a-z]+=`)
	for path, wants := range cases {
		resp, body := get(t, h, "GET", path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		checkSecurityHeaders(t, path, resp)
		if inline.MatchString(body) {
			t.Errorf("%s has inline script", path)
		}
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		for _, m := range labelFor.FindAllStringSubmatch(body, -1) {
			if !strings.Contains(body, `id="`+m[1]+`"`) {
				t.Errorf("%s: label for %q has no control", path, m[1])
			}
		}
	}
}
