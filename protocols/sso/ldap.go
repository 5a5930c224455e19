package sso

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream/ldapup"
)

// ldapHandleTTL bounds the time between the LDAP bind and the code.
const ldapHandleTTL = 5 * time.Minute

// MsgNoSecondFactor refuses an LDAP login of an account without TOTP.
const MsgNoSecondFactor = "LDAP logins need a second factor: ask an administrator for a credential reset token to enrol one"

// ldapHandle is the sealed continuation between the bind and the code: no
// node keeps it, so the code may reach any node (rule 5).
type ldapHandle struct {
	ID       string `json:"id"`
	Provider string `json:"p"`
	Account  string `json:"a"`
	Issue    string `json:"i"`
	Expires  int64  `json:"exp"`
}

type ldapLoginReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Issue    string `json:"issue,omitempty"`
}

type ldapMFAReq struct {
	Handle string    `json:"handle"`
	TOTP   auth.Code `json:"totp"`
}

// ldapBody is each answer of the LDAP login: a continuation asking for
// the code, or the session.
type ldapBody struct {
	Continue string    `json:"continue,omitempty"`
	Handle   string    `json:"handle,omitempty"`
	Token    string    `json:"token,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	Name     string    `json:"name,omitempty"`
}

func (h *Handler) ldapRefuse(w http.ResponseWriter, ref *refusal) {
	writeJSON(w, ref.status, errorBody{Error: ref.msg, Code: ref.reason})
}

func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("the body must be a JSON object of the documented fields")
	}
	return nil
}

// ldapLogin answers POST /v1/sso/ldap/{id} {username, password}: the
// directory bind, the account, then a handle for the local second factor
// (the seed's "LDAP + Local MFA": a bind alone never makes a session).
func (h *Handler) ldapLogin(w http.ResponseWriter, r *http.Request) {
	h.nodeHeader(w)
	p, err := h.provider(r.PathValue("id"), entry.SSOTypeLDAP)
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error(), Code: "not_found"})
		return
	}
	var req ldapLoginReq
	if err := decodeJSON(w, r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error(), Code: reasonBadRequest})
		return
	}
	switch req.Issue {
	case "", auth.IssueCookie, auth.IssueToken:
	default:
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "issue must be token or cookie", Code: reasonBadRequest})
		return
	}
	if req.Username == "" || req.Password == "" || len(req.Username) > 256 || len(req.Password) > 1024 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "username and password are required", Code: reasonBadRequest})
		return
	}
	// The soft lock of password logins, keyed by provider and the name:
	// a wrong password counts whether or not the user exists. Directories
	// match names without regard to case (and AD ignores surrounding
	// spaces), so the key is folded the same way; otherwise "Alice",
	// "ALICE" and "alice " would each get a fresh set of guesses.
	lockKey := ldapLockKey(p, req.Username)
	release, locked := h.Guard.Begin(lockKey, 0)
	if locked {
		h.audit(r, p, "", entry.MechSSOMFA, "locked", reasonLocked)
		h.observe(r, "", entry.MechSSOMFA)
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "too many failed attempts: try again later", Code: reasonLocked})
		return
	}
	defer release()
	ident, err := h.ldapAuthenticate(r.Context(), p, req.Username, req.Password)
	req.Password = ""
	if err != nil {
		switch {
		case errors.Is(err, ldapup.ErrInvalidCredentials):
			h.Guard.Fail(r.Context(), lockKey)
			h.audit(r, p, "", entry.MechSSOMFA, "failure", reasonInvalidCreds)
			h.observe(r, "", entry.MechSSOMFA)
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "Invalid credentials", Code: reasonInvalidCreds})
		case errors.Is(err, ldapup.ErrBadUsername):
			h.Guard.Fail(r.Context(), lockKey)
			h.audit(r, p, "", entry.MechSSOMFA, "failure", reasonBadRequest+": "+err.Error())
			h.observe(r, "", entry.MechSSOMFA)
			writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error(), Code: reasonBadRequest})
		default:
			// The detail (server address, bind DN, TLS trouble) is for the
			// log and the admin's connection test, not for whoever is
			// trying passwords.
			h.log().Warn("sso: LDAP login failed", "provider", p.Name, "error", err)
			h.audit(r, p, "", entry.MechSSOMFA, "failure", reasonUpstream+": "+err.Error())
			writeJSON(w, http.StatusBadGateway, errorBody{Error: "the directory could not check the password; try again later or ask an administrator", Code: reasonUpstream})
		}
		return
	}
	h.Guard.Succeed(lockKey)
	res, err := h.Dir.Resolve(r.Context(), p, ident, "")
	if err != nil {
		h.ldapRefuse(w, h.resolveRefusal(r, p, ident, entry.MechSSOMFA, err))
		return
	}
	if res.Account == nil {
		h.audit(r, p, "", entry.MechSSOMFA, "failure", reasonAccount)
		h.ldapRefuse(w, refuse(http.StatusForbidden, reasonAccount, "", "Account processing failed"))
		return
	}
	acct := res.Account
	if res.Pending || (res.Created && acct.Disabled) {
		h.audit(r, p, acct.Name, entry.MechSSOMFA, "failure", reasonPending)
		writeJSON(w, http.StatusForbidden, errorBody{Error: "Pending approval: your account " + acct.Name + " waits for an administrator to enable it", Code: reasonPending})
		return
	}
	if len(acct.TOTP) == 0 {
		h.audit(r, p, acct.Name, entry.MechSSOMFA, "failure", reasonNoSecond)
		h.observe(r, acct.Name, entry.MechSSOMFA)
		writeJSON(w, http.StatusForbidden, errorBody{Error: MsgNoSecondFactor, Code: reasonNoSecond})
		return
	}
	issue := req.Issue
	if issue == "" {
		issue = auth.IssueToken
	}
	handle, err := sealJSON(h.Sealer, ldapHandle{ID: randomID(), Provider: p.UUID, Account: acct.UUID, Issue: issue,
		Expires: h.now().Add(ldapHandleTTL).Unix()}, ldapAAD)
	if err != nil {
		h.log().Error("sso: seal the LDAP handle", "error", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error", Code: "internal"})
		return
	}
	writeJSON(w, http.StatusOK, ldapBody{Continue: "totp", Handle: handle})
}

// ldapMFA answers POST /v1/sso/ldap/{id}/mfa {handle, totp}: the local
// TOTP, checked and replay-claimed exactly as the stepped login does
// (same soft lock, same cluster-wide monotonic step claim), then a
// session of mechanism sso_mfa.
func (h *Handler) ldapMFA(w http.ResponseWriter, r *http.Request) {
	h.nodeHeader(w)
	p, err := h.provider(r.PathValue("id"), entry.SSOTypeLDAP)
	if err != nil {
		writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error(), Code: "not_found"})
		return
	}
	var req ldapMFAReq
	if err := decodeJSON(w, r, &req); err != nil || req.TOTP == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "send {\"handle\": ..., \"totp\": ...}", Code: reasonBadRequest})
		return
	}
	var hd ldapHandle
	now := h.now()
	if err := openJSON(h.Sealer, req.Handle, ldapAAD, &hd); err != nil || hd.Provider != p.UUID || now.Unix() > hd.Expires {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "this sign-in has expired or is not valid: start again", Code: reasonNoFlow})
		return
	}
	acct, ok := h.Accounts.Entry(hd.Account)
	if !ok {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "this sign-in has expired or is not valid: start again", Code: reasonNoFlow})
		return
	}
	// The stepped login's own TOTP factor (auth.Engine.CheckTOTP): same
	// soft lock, same cluster-wide step claim, so a code spent in one
	// kind of login cannot be used again in the other.
	switch err := h.Issue.CheckTOTP(r.Context(), acct.UUID, req.TOTP); {
	case errors.Is(err, auth.ErrTOTPLocked):
		h.audit(r, p, acct.Name, entry.MechSSOMFA, "locked", reasonLocked)
		h.observe(r, acct.Name, entry.MechSSOMFA)
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "too many failed attempts: try again later", Code: reasonLocked})
		return
	case err != nil:
		h.audit(r, p, acct.Name, entry.MechSSOMFA, "failure", reasonWrongCode)
		h.observe(r, acct.Name, entry.MechSSOMFA)
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "wrong or already used authenticator code", Code: reasonWrongCode})
		return
	}
	// The handle is spent only by a success: a mistyped code may be
	// retried (the soft lock bounds guesses), a used handle may not.
	if !h.Guard.ClaimOnce(r.Context(), "sso-ldap:"+hd.ID, ldapHandleTTL+time.Minute) {
		h.audit(r, p, acct.Name, entry.MechSSOMFA, "failure", reasonFlowUsed)
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "this sign-in was already completed: start again", Code: reasonFlowUsed})
		return
	}
	if !h.Dir.SSOAllowed(acct) {
		h.audit(r, p, acct.Name, entry.MechSSOMFA, "failure", reasonSSOOff)
		writeJSON(w, http.StatusForbidden, errorBody{Error: "Single sign-on is turned off for the account " + acct.Name, Code: reasonSSOOff})
		return
	}
	tok, exp, err := h.Issue.IssueExternal(r.Context(), acct, entry.MechSSOMFA, hd.Issue)
	if err != nil {
		code, status := reasonAccount, http.StatusInternalServerError
		switch {
		case errors.Is(err, auth.ErrDisabled):
			code, status = reasonDisabled, http.StatusForbidden
		case errors.Is(err, auth.ErrBelowPolicy):
			code, status = reasonBelowPolicy, http.StatusForbidden
		}
		h.audit(r, p, acct.Name, entry.MechSSOMFA, "failure", code)
		msg := err.Error()
		if status == http.StatusInternalServerError {
			h.log().Error("sso: issue a session", "account", acct.Name, "error", err)
			msg = "Account processing failed"
		}
		writeJSON(w, status, errorBody{Error: msg, Code: code})
		return
	}
	h.audit(r, p, acct.Name, entry.MechSSOMFA, "success", reasonSuccess)
	body := ldapBody{Token: tok, Expires: exp.UTC(), Name: acct.Name}
	if hd.Issue == auth.IssueCookie {
		http.SetCookie(w, h.SessionCookie(tok, exp))
		body.Token = ""
	}
	writeJSON(w, http.StatusOK, body)
}
