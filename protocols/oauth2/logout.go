package oauth2

import (
	"net/http"
	"slices"
	"strings"
)

// confirmLogout stands in front of the end-session endpoint. A request
// without an id_token_hint does not show which application asks, so the
// user is asked first (OIDC RP-Initiated Logout 1.0 §2): otherwise any
// page on any site could sign its visitors out with a link. The answer
// is a form bound to the session (bind.go); its POST goes on to the
// endpoint, which revokes the session and redirects.
func (p *Provider) confirmLogout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, http.StatusBadRequest, "the sign-out request could not be read")
			return
		}
		if r.Form.Get("id_token_hint") != "" {
			next.ServeHTTP(w, r)
			return
		}
		_, sess, err := p.Session(r)
		if err != nil {
			// Nobody signed in here: nothing to confirm.
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost && p.checkFormToken(bindLogout, r.PostForm.Get("form"), sess.SessionID, sess.Subject) {
			next.ServeHTTP(w, r)
			return
		}
		d := pageData{Title: "Sign out", Logout: true, Account: sess.Name,
			Form: p.formToken(bindLogout, sess.SessionID, sess.Subject)}
		for _, k := range []string{"client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"} {
			if v := r.Form.Get(k); v != "" && len(v) <= 2048 {
				d.Hidden = append(d.Hidden, hidden{k, v})
			}
		}
		if c, ok := p.lookupClient(r.Form.Get("client_id")); ok {
			d.Client = c.DisplayName
			if d.Client == "" {
				d.Client = c.Name
			}
			// The form's answer redirects to the application only to a
			// URI registered for it; the page's CSP must allow that.
			if u := r.Form.Get("post_logout_redirect_uri"); u != "" &&
				(slices.Contains(c.OAuth2.RedirectURIs, u) || u == c.OAuth2.Origin || u == strings.TrimSuffix(c.OAuth2.Origin, "/")) {
				d.FormTarget = cspSource(u)
			}
		}
		p.page(w, http.StatusOK, d)
	})
}
