package sso

import (
	"net/url"
	"strings"
)

// DefaultNext is where a login without a (usable) next address ends.
const DefaultNext = "/ui/sessions"

// safeNext keeps next only when it is a path under /ui/ of this origin
// that no browser can read as another host, as the login page's safeNext
// does: no scheme or host, no backslash or control character, no empty,
// dot or percent-encoded dot, slash or backslash segment in the path
// ("/ui/..//evil", "/ui/%2e%2e//evil" normalise to "//evil"). The query
// (an OAuth2 authorize request's id) is kept as it is.
func safeNext(next string) string {
	if next == "" || len(next) > maxNext || !strings.HasPrefix(next, "/ui/") {
		return ""
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil {
		return ""
	}
	p, _, _ := strings.Cut(next, "?")
	p, _, _ = strings.Cut(p, "#")
	lp := strings.ToLower(p)
	if strings.Contains(p, "//") || strings.Contains(p, "/.") ||
		strings.Contains(lp, "%2e") || strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") {
		return ""
	}
	return next
}
