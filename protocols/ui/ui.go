package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the pages need to know of the node.
type Config struct {
	// Domain returns the cluster's identity domain (shown in titles); it is
	// a function because the domain is known only once the state is
	// initialised, after the handler is built.
	Domain func() string
	// Origin is the public URL of the cluster (shown on the pages so a user
	// can compare it with the address bar).
	Origin string
	Logger *slog.Logger
}

// CSP allows scripts, styles and fetches from this origin only; images may
// also be data: URLs (the TOTP QR code arrives as base64 PNG in JSON).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// page names a template and the script that drives it.
type page struct {
	name   string // template file without .html
	title  string
	script string // under /ui/static/
}

var pages = map[string]page{
	"/ui/login":     {"login", "Sign in", "login.js"},
	"/ui/update":    {"update", "Your credentials", "update.js"},
	"/ui/reset":     {"update", "Set up your credentials", "update.js"},
	"/ui/sessions":  {"sessions", "Your sessions", "sessions.js"},
	"/ui/sso/admin": {"sso_admin", "Single sign-on", "sso_admin.js"},
	"/ui/account":   {"account", "Your account", "account.js"},
}

type handler struct {
	cfg   Config
	tmpl  map[string]*template.Template
	files http.Handler
}

// Handler serves everything under /ui/.
type Handler = handler

// New builds the handler for everything under /ui/.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Domain == nil {
		cfg.Domain = func() string { return "" }
	}
	h := &handler{cfg: cfg, tmpl: map[string]*template.Template{}}
	for _, p := range pages {
		if _, ok := h.tmpl[p.name]; ok {
			continue
		}
		// One set per page: each page file defines "main", so they
		// cannot share one template namespace.
		h.tmpl[p.name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+p.name+".html"))
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(fmt.Sprintf("ui: embedded static files: %v", err)) // cannot happen: the folder is embedded
	}
	h.files = http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	path := r.URL.Path
	switch {
	case len(path) > len("/ui/static/") && path[:len("/ui/static/")] == "/ui/static/":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w)
			return
		}
		// Static files change only with the binary; an hour of caching
		// is enough to spare repeat loads.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.files.ServeHTTP(w, r)
		return
	case path == "/ui" || path == "/ui/":
		http.Redirect(w, r, "/ui/sessions", http.StatusFound)
		return
	}
	p, ok := pages[path]
	if !ok {
		http.Error(w, "no such page", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w)
		return
	}
	mode := ""
	if p.name == "update" {
		mode = path[len("/ui/"):] // "update" or "reset": the script opens the session accordingly
	}
	h.render(w, path, p, mode, "", http.StatusOK)
}

// LoginPage answers with the login page under status (e.g. 401 after a
// Negotiate challenge, so a browser without a Kerberos ticket still sees
// the form); after the login the page goes to next, a path under /ui/.
func (h *Handler) LoginPage(w http.ResponseWriter, status int, next string) {
	securityHeaders(w.Header())
	h.render(w, "/ui/login", pages["/ui/login"], "", next, status)
}

func (h *handler) render(w http.ResponseWriter, path string, p page, mode, next string, status int) {
	data := struct {
		Title, Domain, Origin, Script, Mode, Next string
	}{p.title, h.cfg.Domain(), h.cfg.Origin, p.script, mode, next}
	var buf bytes.Buffer
	if err := h.tmpl[p.name].ExecuteTemplate(&buf, "layout", data); err != nil {
		h.cfg.Logger.Error("render page", "page", path, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages show account details (and the reset page its token, in the
	// fragment, until the script removes it): never cache.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func securityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Frame-Options", "DENY")
	// no-referrer: no page address (nor anything a future link might carry)
	// leaks to another site.
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Strict-Transport-Security", "max-age=31536000")
}

func methodNotAllowed(w http.ResponseWriter) {
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}
