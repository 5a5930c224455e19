package api

import (
	"net/http"
	"strconv"

	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/sso"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

// SSODeps is what the upstream-SSO admin routes need; a nil SSO leaves
// them answering 404.
type SSODeps struct {
	SSO *sso.Service
}

// Upstream SSO: providers, global settings, linked identities and
// per-user overrides (docs/sso.md). The login flows themselves are under
// /ui/sso/ (protocols/sso).
func (s *Server) routesSSO(route routeFunc) {
	route("GET /v1/sso/providers", readOnly, s.ssoOn(s.ssoProviders))
	route("POST /v1/sso/providers", readWrite, s.ssoOn(s.ssoCreateProvider))
	route("GET /v1/sso/providers/{id}", readOnly, s.ssoOn(s.ssoProvider))
	route("PATCH /v1/sso/providers/{id}", readWrite, s.ssoOn(s.ssoUpdateProvider))
	route("DELETE /v1/sso/providers/{id}", readWrite, s.ssoOn(s.ssoDeleteProvider))
	route("POST /v1/sso/providers/{id}/test", readOnly, s.ssoOn(s.ssoTestProvider))
	route("GET /v1/sso/settings", readOnly, s.ssoOn(s.ssoSettings))
	route("PATCH /v1/sso/settings", readWrite, s.ssoOn(s.ssoSetSettings))
	route("GET /v1/person/{id}/sso", readOnly, s.ssoOn(s.ssoAccount))
	route("DELETE /v1/person/{id}/sso/{provider}/{subject}", readWrite, s.ssoOn(s.ssoUnlink))
	route("PATCH /v1/person/{id}/sso/overrides", readWrite, s.ssoOn(s.ssoOverrides))
	route("GET /v1/self/sso", readOnly, s.ssoOn(s.ssoSelf))
}

func (s *Server) ssoOn(h handlerFunc) handlerFunc {
	return func(r *http.Request, a idm.Actor) (result, error) {
		if s.SSO == nil {
			return result{}, idm.NotFound("single sign-on is not set up on this node")
		}
		return h(r, a)
	}
}

type providerList struct {
	Providers []sso.ProviderView `json:"providers"`
}

func (s *Server) ssoProviders(r *http.Request, a idm.Actor) (result, error) {
	ps, err := s.SSO.Providers(a)
	if err != nil {
		return result{}, err
	}
	out := providerList{Providers: []sso.ProviderView{}}
	for _, p := range ps {
		out.Providers = append(out.Providers, s.SSO.View(p))
	}
	return result{status: http.StatusOK, body: out}, nil
}

func (s *Server) ssoProvider(r *http.Request, a idm.Actor) (result, error) {
	p, err := s.SSO.Provider(a, r.PathValue("id"))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.SSO.View(p)}, nil
}

func (s *Server) ssoCreateProvider(r *http.Request, a idm.Actor) (result, error) {
	var in sso.ProviderInput
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	p, idx, err := s.SSO.CreateProvider(r.Context(), a, in)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusCreated, body: s.SSO.View(p), index: idx}, nil
}

func (s *Server) ssoUpdateProvider(r *http.Request, a idm.Actor) (result, error) {
	var in sso.ProviderInput
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	p, idx, err := s.SSO.UpdateProvider(r.Context(), a, r.PathValue("id"), in)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.SSO.View(p), index: idx}, nil
}

func (s *Server) ssoDeleteProvider(r *http.Request, a idm.Actor) (result, error) {
	unlink := false
	if v := r.URL.Query().Get("unlink"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return result{}, idm.Invalid("unlink must be true or false")
		}
		unlink = b
	}
	n, idx, err := s.SSO.DeleteProvider(r.Context(), a, r.PathValue("id"), unlink)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: map[string]int{"unlinked": n}, index: idx}, nil
}

type testBody struct {
	Provider string           `json:"provider"`
	UUID     string           `json:"uuid"`
	OK       bool             `json:"ok"`
	Checks   []upstream.Check `json:"checks"`
}

func (s *Server) ssoTestProvider(r *http.Request, a idm.Actor) (result, error) {
	p, checks, err := s.SSO.Test(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return result{}, err
	}
	out := testBody{Provider: p.Name, UUID: p.UUID, OK: len(checks) > 0, Checks: checks}
	if out.Checks == nil {
		out.Checks = []upstream.Check{}
	}
	for _, c := range checks {
		out.OK = out.OK && c.OK
	}
	return result{status: http.StatusOK, body: out}, nil
}

// SettingsView is the global SSO settings as the API shows them.
type SettingsView struct {
	LocalAuth  bool   `json:"local_auth"`
	AutoCreate bool   `json:"auto_create"`
	AutoEnable bool   `json:"auto_enable"`
	Warning    string `json:"warning,omitempty"`
}

func settingsView(st entry.SSOSettings) SettingsView {
	v := SettingsView{LocalAuth: !st.LocalAuthDisabled, AutoCreate: !st.NoAutoCreate, AutoEnable: st.AutoEnable}
	if st.LocalAuthDisabled {
		v.Warning = sso.WarningLocalAuth
	}
	return v
}

func (s *Server) ssoSettings(r *http.Request, a idm.Actor) (result, error) {
	if !s.Svc.IsIDMAdmin(a) {
		return result{}, idm.Forbidden("%s may not read the single sign-on settings: that needs membership of idm_admins or system_admins", a.Name)
	}
	return result{status: http.StatusOK, body: settingsView(s.SSO.Settings())}, nil
}

func (s *Server) ssoSetSettings(r *http.Request, a idm.Actor) (result, error) {
	var in sso.SettingsInput
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	st, idx, err := s.SSO.SetSettings(r.Context(), a, in)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: settingsView(st), index: idx}, nil
}

// accountFor finds a person or service account the actor may read the
// SSO standing of: itself, or any account for idm admins.
func (s *Server) ssoTarget(r *http.Request, a idm.Actor) (*entry.Entry, error) {
	e, ok := s.Svc.Lookup(r.PathValue("id"))
	if !ok || (e.Class != entry.Person && e.Class != entry.ServiceAccount) {
		return nil, idm.NotFound("no person named %q", r.PathValue("id"))
	}
	if e.UUID != a.UUID && !s.Svc.IsIDMAdmin(a) {
		return nil, idm.Forbidden("%s may only see their own linked identities", a.Name)
	}
	return e, nil
}

func (s *Server) ssoAccount(r *http.Request, a idm.Actor) (result, error) {
	e, err := s.ssoTarget(r, a)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.SSO.Account(e)}, nil
}

func (s *Server) ssoUnlink(r *http.Request, a idm.Actor) (result, error) {
	e, err := s.ssoTarget(r, a)
	if err != nil {
		return result{}, err
	}
	e, idx, err := s.SSO.Unlink(r.Context(), a, e.UUID, r.PathValue("provider"), r.PathValue("subject"))
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.SSO.Account(e), index: idx}, nil
}

func (s *Server) ssoOverrides(r *http.Request, a idm.Actor) (result, error) {
	var in sso.OverridesInput
	if err := decode(r, &in); err != nil {
		return result{}, err
	}
	e, idx, err := s.SSO.SetOverrides(r.Context(), a, r.PathValue("id"), in)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: s.SSO.Account(e), index: idx}, nil
}

// SelfSSO is the account page's view: the caller's standing and the
// enabled providers it may link (login URLs served by protocols/sso).
type SelfSSO struct {
	sso.AccountSSO
	Providers []LinkableProvider `json:"providers"`
}

// LinkableProvider is an enabled provider with its link URL.
type LinkableProvider struct {
	UUID    string `json:"uuid"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	LinkURL string `json:"link_url"`
}

func (s *Server) ssoSelf(r *http.Request, a idm.Actor) (result, error) {
	e, ok := s.State.Entry(a.UUID)
	if !ok {
		return result{}, idm.Unauthorized("the account of this session no longer exists")
	}
	out := SelfSSO{AccountSSO: s.SSO.Account(e), Providers: []LinkableProvider{}}
	for _, p := range s.SSO.EnabledProviders() {
		out.Providers = append(out.Providers, LinkableProvider{UUID: p.UUID, Name: p.Name, Type: p.Type, LinkURL: "/ui/sso/login/" + p.UUID + "?link=1"})
	}
	return result{status: http.StatusOK, body: out}, nil
}
