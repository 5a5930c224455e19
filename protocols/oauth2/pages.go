package oauth2

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse-idm/gatehouse/protocols/ui"
)

// The provider's pages: server-rendered, no script, the ui stylesheet and
// the same security headers as protocols/ui.
var pages = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Gatehouse</title>
<link rel="stylesheet" href="/ui/static/style.css">
<link rel="icon" href="data:,">
</head>
<body>
<header><p class="brand">Gatehouse</p></header>
<main id="main">
<h1>{{.Title}}</h1>
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
{{with .Message}}<p class="status" role="status">{{.}}</p>{{end}}
{{if .Consent}}
<p><strong>{{.Client}}</strong> (<a href="{{.Origin}}">{{.Origin}}</a>) asks to sign you in as <strong>{{.Account}}</strong> with access to:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/ui/oauth2/consent">
<input type="hidden" name="id" value="{{.ID}}">
<input type="hidden" name="form" value="{{.Form}}">
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
{{end}}
{{if .DeviceEnter}}
<p>Signed in as <strong>{{.Account}}</strong>. Enter the code your device shows.</p>
<form method="get" action="/ui/oauth2/device">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" required value="{{.UserCode}}">
<button type="submit">Continue</button>
</form>
{{end}}
{{if .Logout}}
<p>Sign out of Gatehouse as <strong>{{.Account}}</strong>{{with .Client}} (asked by <strong>{{.}}</strong>){{end}}?</p>
<form method="post" action="/oauth2/end_session">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<input type="hidden" name="form" value="{{.Form}}">
<button type="submit">Sign out</button>
</form>
<p><a href="/ui/sessions">Stay signed in</a></p>
{{end}}
{{if .DeviceConfirm}}
<p>A device asks to sign in to <strong>{{.Client}}</strong> (<a href="{{.Origin}}">{{.Origin}}</a>) as <strong>{{.Account}}</strong> with access to:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<p>Check that your device shows the code <strong>{{.UserCode}}</strong>.</p>
<form method="post" action="/ui/oauth2/device">
<input type="hidden" name="user_code" value="{{.UserCode}}">
<input type="hidden" name="form" value="{{.Form}}">
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
{{end}}
</main>
</body>
</html>`))

type pageData struct {
	Title, Error, Message                 string
	Consent, DeviceEnter, DeviceConfirm   bool
	Logout                                bool
	Hidden                                []hidden // form fields carried through a confirmation
	Client, Origin, Account, ID, UserCode string
	Form                                  string // the form's binding token (bind.go)
	// FormTarget is a CSP source the page's form may end up at: the
	// consent answer redirects to the client, and browsers apply
	// form-action to the redirects that follow a form submission.
	FormTarget string
	Scopes     []string
}

type hidden struct{ Name, Value string }

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ui.CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	h.Set("Cache-Control", "no-store")
}

func (p *Provider) page(w http.ResponseWriter, status int, d pageData) {
	var buf bytes.Buffer
	if err := pages.Execute(&buf, d); err != nil {
		p.Log.Error("oauth2: render page", "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header())
	if d.FormTarget != "" {
		w.Header().Set("Content-Security-Policy", strings.Replace(ui.CSP, "form-action 'self'", "form-action 'self' "+d.FormTarget, 1))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

var (
	cspHost   = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)
	cspScheme = regexp.MustCompile(`^[a-z][a-z0-9+.\-]*$`)
)

// cspSource is the CSP source expression of a redirect URI's origin
// (scheme://host[:port], or "scheme:" for a native app's private-use
// scheme), or "" when it cannot be written safely.
func cspSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || !cspScheme.MatchString(u.Scheme) {
		return ""
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return u.Scheme + ":"
	}
	if !cspHost.MatchString(u.Host) {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// errorPage is the answer when the RP cannot be trusted with a redirect
// (unknown client, unregistered redirect URI, a broken auth request).
func (p *Provider) errorPage(w http.ResponseWriter, status int, msg string) {
	p.page(w, status, pageData{Title: "Sign-in request refused", Error: msg})
}
