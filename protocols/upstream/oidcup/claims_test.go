package oidcup

import (
	"strings"
	"testing"
)

func TestMFAFromAMRAndACR(t *testing.T) {
	for _, tc := range []struct {
		amr, acr any
		want     bool
	}{
		{amr: []any{"pwd"}, want: false},
		{amr: []any{"pwd", "pin"}, want: false},
		{amr: []any{"pwd", "otp"}, want: true},
		{amr: []any{"hwk", "pin"}, want: true},
		{amr: []any{"swk"}, want: true},
		{amr: []any{"MFA"}, want: true},
		{amr: "mfa", want: true}, // a lone string from a sloppy provider
		{acr: "http://schemas.openid.net/pape/policies/2007/06/multi-factor", want: true},
		{acr: "urn:example:loa:mfa", want: true},
		{acr: "1", want: false},
		{acr: "nomfa", want: false},
		{acr: "urn:example:no-multi-factor", want: false},
		{acr: "MFA", want: true},
		{acr: map[string]any{"v": "multi"}, want: false},
	} {
		if got := isMFA(tc.amr, tc.acr); got != tc.want {
			t.Errorf("isMFA(%v, %v) = %v, want %v", tc.amr, tc.acr, got, tc.want)
		}
	}
}

func TestClaimsKeepStringForms(t *testing.T) {
	info, err := decodeClaims([]byte(`{"id": 12345678901234567890, "login": "octocat", "email_verified": "true",
		"site_admin": false, "plan": {"name": "pro"}, "teams": ["a", 2, null], "avatar": null, "display_name": "Octo"}`))
	if err != nil {
		t.Fatal(err)
	}
	id, err := buildIdentity(nil, info)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "12345678901234567890", "login": "octocat", "site_admin": "false",
		"plan": `{"name":"pro"}`, "sub": "12345678901234567890"}
	for k, v := range want {
		if id.Claims[k] != v {
			t.Errorf("claim %s = %#v, want %#v", k, id.Claims[k], v)
		}
	}
	if teams, _ := id.Claims["teams"].([]string); len(teams) != 2 || teams[1] != "2" {
		t.Errorf("teams = %#v", id.Claims["teams"])
	}
	if _, ok := id.Claims["avatar"]; ok {
		t.Errorf("null claim kept")
	}
	if id.Subject != "12345678901234567890" || !id.EmailVerified || id.DisplayName != "Octo" {
		t.Errorf("identity = %+v", id)
	}
	if _, err := buildIdentity(nil, map[string]any{"login": "x"}); err == nil {
		t.Errorf("identity without sub or id accepted")
	}
}

func TestIssuerDiffInWords(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"https://x", "https://x/", "the provider's issuer has a trailing slash"},
		{"https://x/", "https://x", "the configured issuer has a trailing slash"},
		{"https://X", "https://x", "upper/lower case"},
		{"http://x", "https://x", "scheme differs"},
		{"https://x/a", "https://x/b", "path differs"},
	} {
		if got := describeIssuerDiff(tc.a, tc.b); !strings.Contains(got, tc.want) {
			t.Errorf("describeIssuerDiff(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}
