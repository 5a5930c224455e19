package sso

import (
	"net/http"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// maxSAMLForm bounds the ACS body; real responses are a few KiB, an
// encrypted one with a certificate chain rarely over 100 KiB.
const maxSAMLForm = 1 << 20

// samlMetadata answers GET /ui/sso/saml/{id}/metadata (public): the SP's
// entity id, ACS address and certificate, for the IdP's administrator.
func (h *Handler) samlMetadata(w http.ResponseWriter, r *http.Request) {
	p, err := h.provider(r.PathValue("id"), entry.SSOTypeSAML)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	sp, err := h.samlSP(p)
	if err != nil {
		h.log().Warn("sso: SAML provider unusable", "provider", p.Name, "error", err)
		http.Error(w, "the SAML provider "+p.Name+" is misconfigured: "+err.Error(), http.StatusInternalServerError)
		return
	}
	md, err := sp.Metadata()
	if err != nil {
		h.log().Error("sso: SAML metadata", "provider", p.Name, "error", err)
		http.Error(w, "the metadata could not be made", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(md)
}

// samlACS answers POST /ui/sso/saml/{id}/acs: the IdP's auto-submitted
// form (a cross-site POST; CrossOriginProtection lets it through). Its
// protection is the response's signature, its InResponseTo (the request
// id sealed in this browser's flow cookie, named by RelayState), and the
// cluster-wide replay cache of assertion ids.
func (h *Handler) samlACS(w http.ResponseWriter, r *http.Request) {
	h.nodeHeader(w)
	p, err := h.provider(r.PathValue("id"), entry.SSOTypeSAML)
	if err != nil {
		h.page(w, http.StatusNotFound, "Sign-in failed", err.Error(), "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLForm)
	if err := r.ParseForm(); err != nil {
		h.audit(r, p, "", "", "failure", reasonBadRequest)
		h.page(w, http.StatusBadRequest, "Sign-in failed", "The identity provider's answer is malformed or too large.", "")
		return
	}
	resp, relay := r.PostForm["SAMLResponse"], r.PostForm["RelayState"]
	if len(resp) != 1 || len(relay) != 1 || resp[0] == "" {
		h.audit(r, p, "", "", "failure", reasonBadRequest)
		h.page(w, http.StatusBadRequest, "Sign-in failed", "The identity provider's answer needs exactly one SAMLResponse and one RelayState (unsolicited responses are not accepted).", "")
		return
	}
	now := h.now()
	f, err := openFlow(h.Sealer, r, relay[0], p.UUID, now)
	if err != nil {
		h.audit(r, p, "", "", "failure", reasonNoFlow)
		h.page(w, http.StatusBadRequest, "Sign-in failed", err.Error(), "")
		return
	}
	sp, err := h.samlSP(p)
	if err != nil {
		h.providerFailure(w, r, p, f.Next, "saml_config", err)
		return
	}
	ident, a, err := sp.ParseResponse(resp[0], f.RequestID, now)
	if err != nil {
		h.providerFailure(w, r, p, f.Next, reasonUpstream, err)
		return
	}
	// The replay cache: an assertion is accepted once in the whole
	// cluster until it expires, whichever node sees it again.
	ttl := a.NotOnOrAfter.Sub(now) + time.Minute
	if a.ID == "" || !h.Guard.ClaimOnce(r.Context(), "saml-assertion:"+p.UUID+":"+a.ID, max(ttl, time.Minute)) {
		h.audit(r, p, "", "", "failure", reasonReplayed)
		h.observe(r, "", entry.MechSSO)
		h.page(w, http.StatusBadRequest, "Sign-in failed", "This SAML assertion was already used (replayed): start again from the sign-in page.", f.Next)
		return
	}
	if !h.Guard.ClaimOnce(r.Context(), "sso-flow:"+f.ID, time.Until(time.Unix(f.Expires, 0))+time.Minute) {
		h.audit(r, p, "", "", "failure", reasonFlowUsed)
		h.page(w, http.StatusBadRequest, "Sign-in failed", errNoFlow.Error(), f.Next)
		return
	}
	h.finishPage(w, r, p, f, ident)
}
