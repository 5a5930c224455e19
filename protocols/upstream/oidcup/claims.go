package oidcup

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

// mfaAMR are RFC 8176 method references that name a factor other than a
// password; an IdP lists them next to "pwd" when a second factor was used
// (see doc.go for why "pin" is absent).
var mfaAMR = map[string]bool{
	"mfa": true, "mca": true, "otp": true, "sms": true, "tel": true,
	"hwk": true, "swk": true, "sc": true,
	"fpt": true, "face": true, "iris": true, "retina": true, "vbm": true,
}

// buildIdentity merges ID token claims (nil for plain OAuth2 without one)
// with user info (nil when there is no endpoint) into an Identity.
func buildIdentity(idClaims, info map[string]any) (upstream.Identity, error) {
	merged := make(map[string]any, len(idClaims)+len(info))
	for k, v := range info {
		merged[k] = v
	}
	var subject string
	if idClaims != nil {
		subject = claimString(idClaims["sub"])
		if infoSub, ok := info["sub"]; ok && claimString(infoSub) != subject {
			// OIDC Core 5.3.2: a different sub means the user info is
			// about someone else (token substitution); refuse.
			return upstream.Identity{}, fmt.Errorf("user info is about subject %q but the ID token is about %q", clean(claimString(infoSub), 128), clean(subject, 128))
		}
		// Signed claims win over unsigned ones.
		for k, v := range idClaims {
			merged[k] = v
		}
	} else {
		subject = claimString(info["sub"])
		if subject == "" {
			subject = claimString(info["id"])
		}
	}
	if subject == "" {
		return upstream.Identity{}, errors.New("the provider did not say who the user is (no sub or id in its answer)")
	}

	id := upstream.Identity{
		Subject:       subject,
		Email:         claimString(merged["email"]),
		EmailVerified: claimBool(merged["email_verified"]),
		MFA:           isMFA(merged["amr"], merged["acr"]),
		Claims:        make(map[string]any, len(merged)),
	}
	for _, k := range []string{"name", "display_name"} {
		if v := claimString(merged[k]); v != "" {
			id.DisplayName = v
			break
		}
	}
	for k, v := range merged {
		if fv, ok := flatten(v); ok {
			id.Claims[k] = fv
		}
	}
	// The login owner reads the subject from Claims too (username
	// fallbacks, claim-based settings); make it the decided one.
	id.Claims["sub"] = subject
	return id, nil
}

// flatten turns a JSON value into string or []string; null is dropped.
func flatten(v any) (any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, false
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			if e != nil {
				out = append(out, claimString(e))
			}
		}
		return out, true
	default:
		return claimString(t), true
	}
}

// claimString is a JSON value's string form: strings as they are, numbers
// in decimal (json.Number keeps big ids exact), booleans as true/false,
// objects and arrays as JSON text.
func claimString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}

// claimBool reads email_verified, which some providers (Cognito, older
// Azure) send as the string "true".
func claimBool(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		b, _ := strconv.ParseBool(t)
		return b
	}
	return false
}

// isMFA reads amr (array, or a lone string from sloppy providers) and acr.
func isMFA(amr, acr any) bool {
	var methods []string
	switch t := amr.(type) {
	case string:
		methods = []string{t}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				methods = append(methods, s)
			}
		}
	}
	for _, m := range methods {
		if mfaAMR[strings.ToLower(m)] {
			return true
		}
	}
	a, _ := acr.(string)
	return acrIsMFA(strings.ToLower(a))
}

// acrIsMFA matches acr values that name multi-factor authentication as a
// whole word ("mfa", "…:mfa", "…/multi-factor", "multifactor"), so that a
// value like "nomfa" or "no-multi-factor" does not count.
func acrIsMFA(a string) bool {
	words := strings.FieldsFunc(a, func(r rune) bool {
		return r == ':' || r == '/' || r == '#' || r == '.' || r == ' ' || r == '_' || r == '='
	})
	for i, w := range words {
		if i > 0 && (words[i-1] == "no" || words[i-1] == "not") {
			continue
		}
		switch w {
		case "mfa", "multi-factor", "multifactor", "2fa":
			return true
		}
	}
	return false
}
