package oauth2

import (
	"net/http"
	"strings"

	"github.com/gatehouse-idm/gatehouse/fsm"
	idmoauth2 "github.com/gatehouse-idm/gatehouse/idm/oauth2"
)

// uiDevice is the device user-code page: GET shows the code form (or the
// confirmation for ?user_code=), POST approves or denies.
func (p *Provider) uiDevice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "the form could not be read")
		return
	}
	code := strings.ToUpper(strings.TrimSpace(r.Form.Get("user_code")))
	next := PathUIDevice
	if code != "" && len(code) <= 32 {
		next += "?user_code=" + code
	}
	sess := p.login(w, r, next)
	if sess == nil {
		return
	}
	acct, err := p.person(sess)
	if err != nil {
		p.errorPage(w, http.StatusForbidden, err.Error())
		return
	}
	title := "Sign in a device"
	if code == "" {
		p.page(w, http.StatusOK, pageData{Title: title, DeviceEnter: true, Account: acct.Name})
		return
	}
	d, ok := p.State.OAuth2DeviceByUserCode(code)
	if !ok || d.State != fsm.DevicePending || p.Now().UnixMilli() > d.Expires {
		p.page(w, http.StatusNotFound, pageData{Title: title, DeviceEnter: true, Account: acct.Name, UserCode: code,
			Error: "No pending request has this code: check it, or start again on the device."})
		return
	}
	c, ok := p.State.Entry(d.Client)
	if !ok || c.OAuth2 == nil {
		p.errorPage(w, http.StatusNotFound, "the application of this request no longer exists")
		return
	}
	granted, err := idmoauth2.GrantedScopes(p.State, c, acct.UUID, d.Scopes)
	if err != nil {
		p.errorPage(w, http.StatusForbidden, err.Error())
		return
	}
	name := c.DisplayName
	if name == "" {
		name = c.Name
	}
	if r.Method != http.MethodPost {
		p.page(w, http.StatusOK, pageData{Title: title, DeviceConfirm: true, Client: name, Origin: c.OAuth2.Origin,
			Account: acct.Name, UserCode: code, Scopes: granted})
		return
	}
	approve := r.PostForm.Get("decision") == "approve"
	err = p.Writer.DecideDevice(r.Context(), fsm.OAuth2DeviceDecide{UserCode: code, Account: acct.UUID, Approve: approve,
		Granted: granted, AuthTime: sessionAuthTime(sess).UnixMilli(), AMR: idmoauth2.AMR(sess.Mechanism)})
	if err != nil {
		p.page(w, http.StatusServiceUnavailable, pageData{Title: title, DeviceConfirm: true, Client: name, Origin: c.OAuth2.Origin,
			Account: acct.Name, UserCode: code, Scopes: granted,
			Error: "Your answer could not be recorded: the cluster may have no leader right now. Try again in a moment. (" + err.Error() + ")"})
		return
	}
	msg := "Done: the device is signed in. You can close this page."
	if !approve {
		msg = "The request was denied."
	}
	p.page(w, http.StatusOK, pageData{Title: title, Message: msg})
}
