package sso

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"

	"github.com/gatehouse-idm/gatehouse/protocols/ui"
)

//go:embed templates/page.html templates/reauth.html
var pageFS embed.FS

var (
	pageTmpl   = template.Must(template.ParseFS(pageFS, "templates/page.html"))
	reauthTmpl = template.Must(template.ParseFS(pageFS, "templates/reauth.html"))
)

// page answers with a server-rendered result page (a refusal, or
// "Pending approval") under the pages' CSP: no script, nothing inline,
// never a stack trace. next, when set, is kept on the way back to the
// sign-in page.
func (h *Handler) page(w http.ResponseWriter, status int, title, msg, next string) {
	back := "/ui/login"
	if next != "" {
		back += "?next=" + url.QueryEscape(next)
	}
	data := struct {
		Title, Message, Back string
		Error                bool
	}{title, msg, back, status >= 400 && title != titlePending}
	h.render(w, pageTmpl, status, data)
}

// render answers a server-rendered page with the pages' headers.
func (h *Handler) render(w http.ResponseWriter, t *template.Template, status int, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		h.log().Error("sso: render page", "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", ui.CSP)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Strict-Transport-Security", "max-age=31536000")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// titlePending is the seed's word for an account waiting for an admin.
const titlePending = "Pending approval"

// errorBody is the API's one error shape.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
