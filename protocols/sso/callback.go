package sso

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/oidcup"
)

// Refusal reasons (audit and error codes).
const (
	reasonBadRequest   = "bad_request"
	reasonNoFlow       = "bad_state"
	reasonFlowUsed     = "state_used"
	reasonUpstream     = "upstream_error"
	reasonProvider     = "upstream_refused"
	reasonReplayed     = "replayed"
	reasonAccount      = "account_failed"
	reasonPending      = "pending_approval"
	reasonSSOOff       = "sso_not_allowed"
	reasonDisabled     = "disabled"
	reasonBelowPolicy  = "below_policy"
	reasonInvalidCreds = "invalid_credentials"
	reasonNoSecond     = "no_second_factor"
	reasonLocked       = "locked"
	reasonWrongCode    = "wrong_code"
	reasonSuccess      = "success"
	reasonLinked       = "linked"
)

// refusal is a login that ends without a session.
type refusal struct {
	status int
	title  string
	msg    string
	reason string
}

func (r *refusal) Error() string { return r.msg }

func refuse(status int, reason, title, msg string) *refusal {
	return &refusal{status: status, title: title, msg: msg, reason: reason}
}

// audit writes one line per outcome and counts refusals that never
// reached the engine.
func (h *Handler) audit(r *http.Request, p *entry.SSOProvider, account, mech, result, reason string) {
	pname, ptype := "", ""
	if p != nil {
		pname, ptype = p.Name+" ("+p.UUID+")", p.Type
	}
	if h.Audit != nil {
		h.Audit.SSOLogin(pname, ptype, account, mech, result, reason, h.NodeID, r.RemoteAddr)
	}
}

// observe counts a refusal before the engine (which counts its own).
func (h *Handler) observe(r *http.Request, account, mech string) {
	if h.Observe != nil {
		h.Observe(account, mech, "failure", r.RemoteAddr)
	}
}

// session is the end of every SSO login: the identity becomes an account
// (Resolve), the account must be allowed to use SSO, and the engine
// issues a session whose mechanism says what the login proved. link, when
// set, links the identity to that account and issues nothing.
func (h *Handler) session(r *http.Request, p *entry.SSOProvider, ident upstream.Identity, link string, mfa bool, issue string) (*entry.Entry, string, time.Time, *refusal) {
	ctx := r.Context()
	mech := entry.MechSSO
	if mfa {
		mech = entry.MechSSOMFA
	}
	res, err := h.Dir.Resolve(ctx, p, ident, link)
	if err != nil {
		return nil, "", time.Time{}, h.resolveRefusal(r, p, ident, mech, err)
	}
	acct := res.Account
	if acct == nil {
		h.audit(r, p, "", mech, "failure", reasonAccount)
		return nil, "", time.Time{}, refuse(http.StatusForbidden, reasonAccount, "Sign-in failed", "Account processing failed")
	}
	if link != "" {
		h.audit(r, p, acct.Name, mech, "success", reasonLinked)
		return acct, "", time.Time{}, nil
	}
	if res.Pending || (res.Created && acct.Disabled) {
		h.audit(r, p, acct.Name, mech, "failure", reasonPending)
		h.observe(r, acct.Name, mech)
		return nil, "", time.Time{}, refuse(http.StatusForbidden, reasonPending, titlePending,
			"Pending approval: your account "+acct.Name+" was created and waits for an administrator to enable it. Sign in again once it is enabled.")
	}
	if !h.Dir.SSOAllowed(acct) {
		h.audit(r, p, acct.Name, mech, "failure", reasonSSOOff)
		h.observe(r, acct.Name, mech)
		return nil, "", time.Time{}, refuse(http.StatusForbidden, reasonSSOOff, "Sign-in refused",
			"Single sign-on is turned off for the account "+acct.Name+": sign in with its own credentials, or ask an administrator.")
	}
	tok, exp, err := h.Issue.IssueExternal(ctx, acct, mech, issue)
	if err != nil {
		switch {
		case errors.Is(err, auth.ErrDisabled):
			h.audit(r, p, acct.Name, mech, "failure", reasonDisabled)
			return nil, "", time.Time{}, refuse(http.StatusForbidden, reasonDisabled, "Sign-in refused",
				"The account "+acct.Name+" is disabled: ask an administrator.")
		case errors.Is(err, auth.ErrBelowPolicy):
			h.audit(r, p, acct.Name, mech, "failure", reasonBelowPolicy)
			return nil, "", time.Time{}, refuse(http.StatusForbidden, reasonBelowPolicy, "Sign-in refused",
				"Sign-in refused: "+err.Error()+". Sign in with a stronger credential, or ask an administrator.")
		}
		h.log().Error("sso: issue a session", "provider", p.Name, "account", acct.Name, "error", err)
		h.audit(r, p, acct.Name, mech, "failure", reasonAccount+": "+err.Error())
		return nil, "", time.Time{}, refuse(http.StatusInternalServerError, reasonAccount, "Sign-in failed", "Account processing failed")
	}
	note := reasonSuccess
	if res.Note != "" {
		note += ": " + res.Note
	}
	h.audit(r, p, acct.Name, mech, "success", note)
	return acct, tok, exp, nil
}

// resolveRefusal logs, audits and words a refusal of Resolve, the same
// for every provider type.
func (h *Handler) resolveRefusal(r *http.Request, p *entry.SSOProvider, ident upstream.Identity, mech string, err error) *refusal {
	h.log().Warn("sso: account processing failed", "provider", p.Name, "subject", ident.Subject, "error", err)
	h.audit(r, p, "", mech, "failure", "resolve: "+err.Error())
	h.observe(r, "", mech)
	msg, status, reason := "Account processing failed", http.StatusForbidden, reasonAccount
	if e := idm.AsError(err); e.Status < 500 {
		msg += ": " + e.Msg
		if e.Code != "" && e.Code != "forbidden" && e.Code != "invalid" {
			reason = e.Code
		}
	} else {
		status = e.Status
	}
	if reason == reasonSSOOff {
		return refuse(status, reason, "Sign-in refused", "Single sign-on is turned off for this account: sign in with its own credentials, or ask an administrator.")
	}
	return refuse(status, reason, "Sign-in failed", msg)
}

// finishPage ends a browser login: the session cookie and a redirect to
// next, or a page that says why not.
func (h *Handler) finishPage(w http.ResponseWriter, r *http.Request, p *entry.SSOProvider, f *flow, ident upstream.Identity) {
	http.SetCookie(w, clearFlowCookie())
	mfa := p.MFATrusted && ident.MFA
	next := f.Next
	if next == "" {
		next = DefaultNext
	}
	if f.Reauth != nil {
		mech := entry.MechSSO
		if mfa {
			mech = entry.MechSSOMFA
		}
		if ref := h.finishReauth(w, r, p, f.Reauth, ident, mech); ref != nil {
			h.page(w, ref.status, ref.title, ref.msg, f.Next)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, next, http.StatusFound)
		return
	}
	acct, tok, exp, ref := h.session(r, p, ident, f.Link, mfa, auth.IssueCookie)
	if ref != nil {
		h.page(w, ref.status, ref.title, ref.msg, f.Next)
		return
	}
	if f.Link == "" {
		http.SetCookie(w, h.SessionCookie(tok, exp))
		h.log().Info("sso: login", "provider", p.Name, "account", acct.Name, "remote", r.RemoteAddr)
	} else {
		h.log().Info("sso: identity linked", "provider", p.Name, "account", acct.Name, "remote", r.RemoteAddr)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusFound)
}

// providerFailure is a page for an error of the upstream step; the
// library's message (e.g. "Invalid signature algorithm HS256") is shown.
func (h *Handler) providerFailure(w http.ResponseWriter, r *http.Request, p *entry.SSOProvider, next, reason string, err error) {
	h.log().Warn("sso: upstream step failed", "provider", p.Name, "reason", reason, "error", err, "remote", r.RemoteAddr)
	h.audit(r, p, "", "", "failure", reason+": "+err.Error())
	h.observe(r, "", entry.MechSSO)
	status := http.StatusBadGateway
	if reason != "provider_unreachable" && reason != "saml_config" && reason != "saml_request" {
		status = http.StatusBadRequest
	}
	h.page(w, status, "Sign-in failed", "Sign-in through "+p.Name+" failed: "+err.Error(), next)
}

// callback answers GET /ui/sso/callback/{id}: the provider's redirect
// back, on whichever node it lands (the flow is in the cookie).
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	h.nodeHeader(w)
	p, err := h.provider(r.PathValue("id"), entry.SSOTypeOIDC, entry.SSOTypeOAuth2)
	if err != nil {
		h.page(w, http.StatusNotFound, "Sign-in failed", err.Error(), "")
		return
	}
	if len(r.URL.RawQuery) > 16384 {
		h.audit(r, p, "", "", "failure", reasonBadRequest)
		h.page(w, http.StatusBadRequest, "Sign-in failed", "Sign-in failed: the callback address is too long.", "")
		return
	}
	code, state, cerr := oidcup.ParseCallback(r.URL.Query())
	var perr *oidcup.ProviderError
	if cerr != nil && (!errors.As(cerr, &perr) || state == "") {
		h.audit(r, p, "", "", "failure", reasonBadRequest+": "+cerr.Error())
		h.page(w, http.StatusBadRequest, "Sign-in failed", "Sign-in failed: "+cerr.Error()+".", "")
		return
	}
	f, err := openFlow(h.Sealer, r, state, p.UUID, h.now())
	if err != nil {
		h.audit(r, p, "", "", "failure", reasonNoFlow)
		h.page(w, http.StatusBadRequest, "Sign-in failed", err.Error(), "")
		return
	}
	if perr != nil {
		// The provider's own refusal (access_denied...), already cleaned
		// for display by oidcup.
		http.SetCookie(w, clearFlowCookie())
		h.audit(r, p, "", "", "failure", reasonProvider+": "+perr.Code)
		h.page(w, http.StatusBadRequest, "Sign-in failed", p.Name+": "+perr.Error(), f.Next)
		return
	}
	// One use, cluster-wide, before the code is spent at the provider.
	if !h.Guard.ClaimOnce(r.Context(), "sso-flow:"+f.ID, time.Until(time.Unix(f.Expires, 0))+time.Minute) {
		h.audit(r, p, "", "", "failure", reasonFlowUsed)
		h.page(w, http.StatusBadRequest, "Sign-in failed", errNoFlow.Error(), f.Next)
		return
	}
	c, err := h.oidcClient(r.Context(), p)
	if err != nil {
		h.providerFailure(w, r, p, f.Next, "provider_unreachable", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	ident, err := c.Exchange(ctx, code, f.Verifier, f.Nonce)
	if err != nil {
		http.SetCookie(w, clearFlowCookie())
		h.providerFailure(w, r, p, f.Next, reasonUpstream, err)
		return
	}
	h.finishPage(w, r, p, f, ident)
}
