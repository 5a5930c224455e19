package sso

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/authguard"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/ldapup"
)

// ldapLockKey is the soft lock of LDAP password guesses, keyed by provider
// and the name folded as directories compare it (case, surrounding
// spaces): "Alice", "ALICE" and "alice " share one count.
func ldapLockKey(p *entry.SSOProvider, username string) string {
	return authguard.NameKey("ldap:"+p.UUID+":"+strings.ToLower(strings.TrimSpace(username)), authguard.FactorPassword)
}

// ldapReauth answers POST /ui/sso/reauth/ldap/{id}, the reauth page's
// form (username, password, totp, next): the directory bind, the local
// TOTP of the session's account (an LDAP login always needs both), and
// the identity must be linked to that account; then the session gets its
// write window (mechanism sso_mfa) and the browser goes to next. One form,
// no script: the page runs under the pages' CSP.
func (h *Handler) ldapReauth(w http.ResponseWriter, r *http.Request) {
	h.nodeHeader(w)
	p, err := h.provider(r.PathValue("id"), entry.SSOTypeLDAP)
	if err != nil {
		h.page(w, http.StatusNotFound, "Confirmation failed", err.Error(), "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.page(w, http.StatusBadRequest, "Confirmation failed", "The form is malformed or too large.", "")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	c, ok := h.sessionClaims(r)
	if !ok {
		h.page(w, http.StatusUnauthorized, "Sign-in required", "Your session has ended: sign in again.", next)
		return
	}
	user, pass, code := r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("totp")
	if user == "" || pass == "" || code == "" || len(user) > 256 || len(pass) > 1024 || len(code) > 16 {
		h.page(w, http.StatusBadRequest, "Confirmation failed", "Username, password and authenticator code are all required.", next)
		return
	}
	mech := entry.MechSSOMFA
	lockKey := ldapLockKey(p, user)
	release, locked := h.Guard.Begin(lockKey, 0)
	if locked {
		h.audit(r, p, c.Name, mech, "locked", reasonReauth+": "+reasonLocked)
		h.observe(r, c.Name, mech)
		h.page(w, http.StatusTooManyRequests, "Confirmation refused", "Too many failed attempts: try again later.", next)
		return
	}
	defer release()
	ident, err := h.ldapAuthenticate(r.Context(), p, user, pass)
	pass = ""
	if err != nil {
		if errors.Is(err, ldapup.ErrInvalidCredentials) || errors.Is(err, ldapup.ErrBadUsername) {
			h.Guard.Fail(r.Context(), lockKey)
			h.audit(r, p, c.Name, mech, "failure", reasonReauth+": "+reasonInvalidCreds)
			h.observe(r, c.Name, mech)
			h.page(w, http.StatusUnauthorized, "Confirmation refused", "Invalid credentials.", next)
			return
		}
		h.log().Warn("sso: LDAP reauthentication failed", "provider", p.Name, "error", err)
		h.audit(r, p, c.Name, mech, "failure", reasonReauth+": "+reasonUpstream+": "+err.Error())
		h.page(w, http.StatusBadGateway, "Confirmation failed", "The directory could not check the password; try again later or ask an administrator.", next)
		return
	}
	h.Guard.Succeed(lockKey)
	// The stepped login's own TOTP factor: same soft lock and step claim.
	switch err := h.Issue.CheckTOTP(r.Context(), c.Subject, auth.Code(code)); {
	case errors.Is(err, auth.ErrTOTPLocked):
		h.audit(r, p, c.Name, mech, "locked", reasonReauth+": "+reasonLocked)
		h.observe(r, c.Name, mech)
		h.page(w, http.StatusTooManyRequests, "Confirmation refused", "Too many failed attempts: try again later.", next)
		return
	case err != nil:
		h.audit(r, p, c.Name, mech, "failure", reasonReauth+": "+reasonWrongCode)
		h.observe(r, c.Name, mech)
		h.page(w, http.StatusUnauthorized, "Confirmation refused", "Wrong or already used authenticator code.", next)
		return
	}
	if ref := h.finishReauth(w, r, p, c, ident, mech); ref != nil {
		h.page(w, ref.status, ref.title, ref.msg, next)
		return
	}
	if next == "" {
		next = DefaultNext
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}
