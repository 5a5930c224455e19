package api

import (
	"net/http"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/oauth2client"
)

// OAuth2ClientDeps are the collaborators of the OAuth2 client management
// routes (docs/oauth2-clients.md).
type OAuth2ClientDeps struct {
	// OAuth2Clients manages clients and signing keys; nil answers 503 on
	// those routes.
	OAuth2Clients *oauth2client.Service
}

// OAuth2 client management. Reads need any session; every change, and
// showing a secret, need a read-write one (and idm_admins or
// system_admins, checked by oauth2client and again by the FSM).
func (s *Server) routesOAuth2Clients(route routeFunc) {
	const base = "/v1/oauth2"
	const one = base + "/{id}"
	route("POST "+base, readWrite, s.oc(s.ocCreate))
	route("GET "+base, readOnly, s.oc(s.ocList))
	route("GET "+one, readOnly, s.oc(s.ocGet))
	route("PATCH "+one, readWrite, s.oc(s.ocPatch))
	route("DELETE "+one, readWrite, s.oc(s.ocDelete))
	route("POST "+one+"/redirect_urls", readWrite, s.oc(s.ocRedirect(true)))
	route("DELETE "+one+"/redirect_urls", readWrite, s.oc(s.ocRedirect(false)))
	route("POST "+one+"/scope_maps/{group}", readWrite, s.oc(s.ocScopeMap(false, true)))
	route("DELETE "+one+"/scope_maps/{group}", readWrite, s.oc(s.ocScopeMap(false, false)))
	route("POST "+one+"/sup_scope_maps/{group}", readWrite, s.oc(s.ocScopeMap(true, true)))
	route("DELETE "+one+"/sup_scope_maps/{group}", readWrite, s.oc(s.ocScopeMap(true, false)))
	route("POST "+one+"/claim_maps/{claim}/join", readWrite, s.oc(s.ocClaimJoin))
	route("POST "+one+"/claim_maps/{claim}/{group}", readWrite, s.oc(s.ocClaimMap(true)))
	route("DELETE "+one+"/claim_maps/{claim}/{group}", readWrite, s.oc(s.ocClaimMap(false)))
	route("GET "+one+"/basic_secret", readWrite, s.oc(s.ocShowSecret))
	route("POST "+one+"/basic_secret", readWrite, s.oc(s.ocResetSecret))
	route("POST "+one+"/pkce", readWrite, s.oc(s.ocPKCE))
	route("POST "+one+"/legacy_crypto", readWrite, s.oc(s.ocLegacyCrypto))
	route("POST "+one+"/username", readWrite, s.oc(s.ocUsername))
	route("POST "+base+"/_keys/rotate", readWrite, s.oc(s.ocRotateKeys))
}

// oc answers 503 while the node has no client manager wired.
func (s *Server) oc(h handlerFunc) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		if s.OAuth2Clients == nil {
			return result{}, idm.Unavailable("OAuth2 client management is not available on this node")
		}
		return h(r, a)
	}
}

// OAuth2ClientView is a client as the API shows it: group names next to
// their uuids, and never the secret (except on create and the secret
// routes, in Secret).
type OAuth2ClientView struct {
	UUID                string         `json:"uuid"`
	Name                string         `json:"name"`
	DisplayName         string         `json:"displayname"`
	Description         string         `json:"description,omitempty"`
	Origin              string         `json:"origin"`
	Public              bool           `json:"public"`
	RedirectURLs        []string       `json:"redirect_urls"`
	ScopeMaps           []ScopeMapView `json:"scope_maps"`
	SupScopeMaps        []ScopeMapView `json:"sup_scope_maps"`
	ClaimMaps           []ClaimMapView `json:"claim_maps"`
	PKCE                bool           `json:"pkce"`
	LegacyCrypto        bool           `json:"legacy_crypto"`
	PreferShortUsername bool           `json:"prefer_short_username"`
	Version             uint64         `json:"version"`
	Created             string         `json:"created"`
	Updated             string         `json:"updated"`
	Secret              string         `json:"secret,omitempty"`
	Warning             string         `json:"warning,omitempty"`
}

// ScopeMapView is a scope map with its group's name.
type ScopeMapView struct {
	Group     string   `json:"group"`
	GroupUUID string   `json:"group_uuid"`
	Scopes    []string `json:"scopes"`
}

// ClaimMapView is a claim map with its group's name.
type ClaimMapView struct {
	Claim     string   `json:"claim"`
	Group     string   `json:"group"`
	GroupUUID string   `json:"group_uuid"`
	Values    []string `json:"values"`
	Join      string   `json:"join"`
}

// OAuth2ClientList is the answer of GET /v1/oauth2.
type OAuth2ClientList struct {
	Clients []OAuth2ClientView `json:"clients"`
}

func (s *Server) ocView(e *entry.Entry) OAuth2ClientView {
	o := e.OAuth2
	if o == nil {
		o = &entry.OAuth2Settings{}
	}
	v := OAuth2ClientView{UUID: e.UUID, Name: e.Name, DisplayName: e.DisplayName, Description: e.Description,
		Origin: o.Origin, Public: o.Public, RedirectURLs: append([]string{}, o.RedirectURIs...),
		ScopeMaps: []ScopeMapView{}, SupScopeMaps: []ScopeMapView{}, ClaimMaps: []ClaimMapView{},
		PKCE: !o.PKCEDisabled, LegacyCrypto: o.LegacyCrypto, PreferShortUsername: o.PreferShortUsername,
		Version: e.Version, Created: millis(e.Created), Updated: millis(e.Updated)}
	for _, m := range o.ScopeMaps {
		v.ScopeMaps = append(v.ScopeMaps, ScopeMapView{Group: s.State.NameOf(m.Group), GroupUUID: m.Group, Scopes: m.Scopes})
	}
	for _, m := range o.SupScopeMaps {
		v.SupScopeMaps = append(v.SupScopeMaps, ScopeMapView{Group: s.State.NameOf(m.Group), GroupUUID: m.Group, Scopes: m.Scopes})
	}
	for _, m := range o.ClaimMaps {
		join := m.Join
		if join == "" {
			join = "array"
		}
		v.ClaimMaps = append(v.ClaimMaps, ClaimMapView{Claim: m.Claim, Group: s.State.NameOf(m.Group), GroupUUID: m.Group, Values: m.Values, Join: join})
	}
	return v
}

// ocAnswer is the answer of every change: the client as it now is.
func (s *Server) ocAnswer(e *entry.Entry, idx uint64, err error) (result, error) {
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.ocView(e), index: idx}, nil
}

type ocCreateBody struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayname"`
	Origin      string `json:"origin"`
	Public      bool   `json:"public"`
}

func (s *Server) ocCreate(r *http.Request, a idm.Actor) (result, error) {
	var in ocCreateBody
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	e, secret, idx, err := s.OAuth2Clients.Create(r.Context(), a, in.Name, in.DisplayName, in.Origin, in.Public)
	if err != nil {
		return result{}, err
	}
	v := s.ocView(e)
	v.Secret = secret
	return result{status: http.StatusCreated, body: v, index: idx}, nil
}

func (s *Server) ocList(*http.Request, idm.Actor) (result, error) {
	out := OAuth2ClientList{Clients: []OAuth2ClientView{}}
	for _, e := range s.OAuth2Clients.List() {
		out.Clients = append(out.Clients, s.ocView(e))
	}
	return result{status: http.StatusOK, body: out}, nil
}

func (s *Server) ocGet(r *http.Request, _ idm.Actor) (result, error) {
	e, err := s.OAuth2Clients.Get(r.PathValue("id"))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.ocView(e)}, nil
}

func (s *Server) ocPatch(r *http.Request, a idm.Actor) (result, error) {
	var in oauth2client.Patch
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	return s.ocAnswer(s.OAuth2Clients.Update(r.Context(), a, r.PathValue("id"), in))
}

func (s *Server) ocDelete(r *http.Request, a idm.Actor) (result, error) {
	idx, err := s.OAuth2Clients.Delete(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusNoContent, index: idx}, nil
}

func (s *Server) ocRedirect(add bool) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		var in struct {
			URL string `json:"url"`
		}
		if err := decode(r, &in); err != nil {
			return result{}, err
		}
		if add {
			return s.ocAnswer(s.OAuth2Clients.AddRedirectURL(r.Context(), a, r.PathValue("id"), in.URL))
		}
		return s.ocAnswer(s.OAuth2Clients.RemoveRedirectURL(r.Context(), a, r.PathValue("id"), in.URL))
	}
}

func (s *Server) ocScopeMap(sup, set bool) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		id, group := r.PathValue("id"), r.PathValue("group")
		if !set {
			return s.ocAnswer(s.OAuth2Clients.DeleteScopeMap(r.Context(), a, id, group, sup))
		}
		var in struct {
			Scopes []string `json:"scopes"`
		}
		if err := decode(r, &in); err != nil {
			return result{}, err
		}
		return s.ocAnswer(s.OAuth2Clients.SetScopeMap(r.Context(), a, id, group, in.Scopes, sup))
	}
}

func (s *Server) ocClaimMap(set bool) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		id, claim, group := r.PathValue("id"), r.PathValue("claim"), r.PathValue("group")
		if !set {
			return s.ocAnswer(s.OAuth2Clients.DeleteClaimMap(r.Context(), a, id, claim, group))
		}
		var in struct {
			Values []string `json:"values"`
		}
		if err := decode(r, &in); err != nil {
			return result{}, err
		}
		return s.ocAnswer(s.OAuth2Clients.SetClaimMap(r.Context(), a, id, claim, group, in.Values))
	}
}

func (s *Server) ocClaimJoin(r *http.Request, a idm.Actor) (result, error) {
	var in struct {
		Join string `json:"join"`
	}
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	return s.ocAnswer(s.OAuth2Clients.SetClaimJoin(r.Context(), a, r.PathValue("id"), r.PathValue("claim"), in.Join))
}

// OAuth2Secret is the answer of the basic_secret routes.
type OAuth2Secret struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

func (s *Server) ocShowSecret(r *http.Request, a idm.Actor) (result, error) {
	secret, err := s.OAuth2Clients.ShowSecret(a, r.PathValue("id"))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: OAuth2Secret{Name: r.PathValue("id"), Secret: secret}}, nil
}

func (s *Server) ocResetSecret(r *http.Request, a idm.Actor) (result, error) {
	secret, idx, err := s.OAuth2Clients.ResetSecret(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: OAuth2Secret{Name: r.PathValue("id"), Secret: secret}, index: idx}, nil
}

type enabledBody struct {
	Enabled *bool `json:"enabled"`
}

func (s *Server) decodeEnabled(r *http.Request) (bool, error) {
	var in enabledBody
	if err := decode(r, &in); err != nil {
		return false, err
	}
	if in.Enabled == nil {
		return false, idm.Invalid("send {\"enabled\": true|false}")
	}
	return *in.Enabled, nil
}

// Warnings returned with the risky settings (the CLI prints its own).
const (
	WarningPKCEDisabled = "PKCE is disabled for this client: an intercepted authorisation code can be exchanged by anyone holding the client secret (RFC 7636, RFC 6819 §4.4.1)"
	WarningLegacyCrypto = "this client's tokens are now signed RS256 (legacy): larger and slower than ES256 for the same strength"
)

func (s *Server) ocPKCE(r *http.Request, a idm.Actor) (result, error) {
	on, err := s.decodeEnabled(r)
	if err != nil {
		return result{}, err
	}
	res, err := s.ocAnswer(s.OAuth2Clients.SetPKCE(r.Context(), a, r.PathValue("id"), on))
	if err == nil && !on {
		v := res.body.(OAuth2ClientView)
		v.Warning = WarningPKCEDisabled
		res.body = v
	}
	return res, err
}

func (s *Server) ocLegacyCrypto(r *http.Request, a idm.Actor) (result, error) {
	on, err := s.decodeEnabled(r)
	if err != nil {
		return result{}, err
	}
	res, err := s.ocAnswer(s.OAuth2Clients.SetLegacyCrypto(r.Context(), a, r.PathValue("id"), on))
	if err == nil && on {
		v := res.body.(OAuth2ClientView)
		v.Warning = WarningLegacyCrypto
		res.body = v
	}
	return res, err
}

func (s *Server) ocUsername(r *http.Request, a idm.Actor) (result, error) {
	var in struct {
		PreferShort *bool `json:"prefer_short"`
	}
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	if in.PreferShort == nil {
		return result{}, idm.Invalid("send {\"prefer_short\": true|false}")
	}
	return s.ocAnswer(s.OAuth2Clients.SetPreferShortUsername(r.Context(), a, r.PathValue("id"), *in.PreferShort))
}

// KeyRotation is the answer of POST /v1/oauth2/_keys/rotate.
type KeyRotation struct {
	Added []string `json:"added"`
}

func (s *Server) ocRotateKeys(r *http.Request, a idm.Actor) (result, error) {
	kids, err := s.OAuth2Clients.RotateKeys(r.Context(), a)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: KeyRotation{Added: kids}}, nil
}
