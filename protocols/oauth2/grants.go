package oauth2

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
	idmoauth2 "github.com/gatehouse-idm/gatehouse/idm/oauth2"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// server is our op.Server: op parses requests and encodes answers and
// errors; everything else is here.
type server struct {
	op.UnimplementedServer
	p *Provider
}

func (s *server) Health(context.Context, *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(map[string]string{"status": "ok"}), nil
}

func (s *server) Ready(context.Context, *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(map[string]string{"status": "ok"}), nil
}

func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	if r.Data.ClientAssertion != "" {
		return nil, oidc.ErrInvalidClient().WithDescription("client assertions are not supported: use client_secret_basic")
	}
	return s.p.verifyClient(ctx, r.Data.ClientID, r.Data.ClientSecret)
}

func unavailable(err error) error {
	return op.NewStatusError(oidc.ErrServerError().WithDescription("the cluster could not record this now (%v); retry shortly", err), http.StatusServiceUnavailable)
}

func tokenResponse(t *oidc.AccessTokenResponse) *op.Response {
	resp := op.NewResponse(t)
	resp.Header.Set("Cache-Control", "no-store")
	resp.Header.Set("Pragma", "no-cache")
	return resp
}

// issue makes the tokens of a person grant: access, ID (with openid),
// refresh (with offline_access; gen is its generation).
func (p *Provider) issue(g *grant, code string, rt *refreshToken, now time.Time) (*op.Response, error) {
	at, life, err := p.accessToken(g, now)
	if err != nil {
		return nil, signError(err)
	}
	out := &oidc.AccessTokenResponse{AccessToken: at, TokenType: oidc.BearerToken, ExpiresIn: uint64(life.Seconds()), Scope: g.scopes}
	if slices.Contains(g.scopes, idmoauth2.ScopeOpenID) {
		if out.IDToken, err = p.idToken(g, at, code, now); err != nil {
			return nil, signError(err)
		}
	}
	if rt != nil {
		if out.RefreshToken, err = p.sealRefresh(*rt); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
	}
	return tokenResponse(out), nil
}

func signError(err error) error {
	if errors.Is(err, ErrNoLegacyKey) {
		return oidc.ErrServerError().WithDescription("%s", ErrNoLegacyKey.Error())
	}
	return oidc.ErrServerError().WithDescription("tokens could not be signed: %v", err)
}

// personGrant loads what a person grant needs and checks the account.
func (p *Provider) personGrant(clientUUID, account string) (*grant, error) {
	c, ok := p.State.Entry(clientUUID)
	if !ok || c.Class != entry.OAuth2Client || c.OAuth2 == nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the client no longer exists")
	}
	person, ok := p.State.Entry(account)
	if !ok || person.Class != entry.Person || person.Disabled {
		return nil, oidc.ErrInvalidGrant().WithDescription("the account no longer exists or is disabled")
	}
	return &grant{client: c, clientID: c.Name, subject: person.UUID, person: person}, nil
}

func (s *server) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (resp *op.Response, err error) {
	p, req := s.p, r.Data
	ev := &grantEvent{grant: grantCode, client: r.Client.GetID(), remote: remoteOf(ctx)}
	defer func() { p.record(ev, err) }()
	now := p.Now()
	cg, used := p.codes.take(req.Code, now)
	if used != nil {
		// RFC 6749 §4.1.2: a replayed code revokes what it issued.
		ev.result, ev.reason, ev.account = resultReplayed, "invalid_grant: the code was used before; its session is revoked", p.State.NameOf(used.account)
		p.Log.Warn("oauth2: authorization code replayed; revoking its session", "session", used.session)
		go func(u usedCode) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Writer.Revoke(ctx, u.session, u.account, u.limit); err != nil {
				p.Log.Warn("oauth2: revoking after a code replay failed", "error", err)
			}
		}(*used)
	}
	if cg == nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, expired or already used")
	}
	if cg.clientID != r.Client.GetID() || cg.redirect != req.RedirectURI {
		return nil, oidc.ErrInvalidGrant().WithDescription("the code was issued to another client or redirect_uri")
	}
	ev.account = p.State.NameOf(cg.account)
	if err := checkPKCE(cg.challenge, req.CodeVerifier); err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("%s", err.Error())
	}
	g, err := p.personGrant(cg.clientUUID, cg.account)
	if err != nil {
		return nil, err
	}
	g.scopes, g.authTime, g.amr, g.nonce = cg.scopes, cg.authTime, cg.amr, cg.nonce
	ev.scopes = g.scopes
	g.session = p.NodeID + "." + randomString(16)
	g.limit = cg.limit
	g.parent = cg.parent // bound to the login session unless offline_access (below)
	var rt *refreshToken
	if slices.Contains(g.scopes, idmoauth2.ScopeOfflineAccess) {
		exp := now.Add(RefreshLife)
		rt = &refreshToken{Family: g.session, Account: g.subject, Client: cg.clientUUID, Scopes: g.scopes,
			AuthTime: g.authTime.Unix(), AMR: g.amr, Expires: exp.UnixMilli()}
		g.limit = exp // the refresh family outlives the login session
		g.parent = ""
	}
	p.codes.markUsed(req.Code, usedCode{session: g.session, account: g.subject, until: cg.expires.Add(CodeLife), limit: maxTime(g.limit, now.Add(AccessTokenLife))}, now)
	return p.issue(g, req.Code, rt, now)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (s *server) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (resp *op.Response, err error) {
	p := s.p
	ev := &grantEvent{grant: grantRefresh, client: r.Client.GetID(), remote: remoteOf(ctx)}
	defer func() { p.record(ev, err) }()
	now := p.Now()
	rt, err := p.openRefresh(r.Data.RefreshToken)
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("%v", err)
	}
	ev.account = p.State.NameOf(rt.Account)
	cl := r.Client.(*client)
	if rt.Client != cl.e.UUID {
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token was issued to another client")
	}
	if now.UnixMilli() > rt.Expires {
		return nil, oidc.ErrInvalidGrant().WithDescription("the refresh token has expired")
	}
	if p.State.IsRevoked(rt.Family) {
		return nil, oidc.ErrInvalidGrant().WithDescription("this session has been revoked")
	}
	scopes := rt.Scopes
	if len(r.Data.Scopes) > 0 {
		asked := idmoauth2.NormalizeScopes(r.Data.Scopes)
		for _, sc := range asked {
			if !slices.Contains(rt.Scopes, sc) {
				return nil, oidc.ErrInvalidScope().WithDescription("scope %q was not granted", sc)
			}
		}
		scopes = asked
	}
	g, err := p.personGrant(rt.Client, rt.Account)
	if err != nil {
		return nil, err
	}
	if err := p.Writer.UseRefresh(ctx, rt.use()); err != nil {
		if errors.Is(err, idmoauth2.ErrRefreshReused) {
			ev.result, ev.reason = resultReused, "invalid_grant: "+err.Error()
			p.Log.Warn("oauth2: refresh token reused; session revoked", "family", rt.Family, "account", rt.Account)
			return nil, oidc.ErrInvalidGrant().WithDescription("%s", err.Error())
		}
		if strings.Contains(err.Error(), "revoked") || strings.Contains(err.Error(), "expired") {
			return nil, oidc.ErrInvalidGrant().WithDescription("%v", err)
		}
		return nil, unavailable(err)
	}
	next := rt
	next.Generation++
	g.scopes, g.authTime, g.amr, g.session = scopes, time.Unix(rt.AuthTime, 0), rt.AMR, rt.Family
	g.limit = time.UnixMilli(rt.Expires)
	ev.scopes = scopes
	return p.issue(g, "", &next, now)
}

func (s *server) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (resp *op.Response, err error) {
	p := s.p
	cl := r.Client.(*client)
	ev := &grantEvent{grant: grantClientCreds, client: cl.e.Name, account: cl.e.Name, remote: remoteOf(ctx)}
	defer func() { p.record(ev, err) }()
	if cl.public() { // op refuses AuthMethodNone already; kept so a change there cannot open this
		return nil, oidc.ErrUnauthorizedClient().WithDescription("public clients cannot use client_credentials")
	}
	g := &grant{clientID: cl.e.Name, subject: cl.e.UUID}
	switch cl.e.Class {
	case entry.OAuth2Client:
		g.client = cl.e
		g.scopes = idmoauth2.ClientScopes(r.Data.Scope)
	case entry.ServiceAccount:
		g.scopes = p.serviceScopes(cl.e.UUID, r.Data.Scope)
	}
	ev.scopes = g.scopes
	now := p.Now()
	at, life, err := p.accessToken(g, now)
	if err != nil {
		return nil, signError(err)
	}
	return tokenResponse(&oidc.AccessTokenResponse{AccessToken: at, TokenType: oidc.BearerToken, ExpiresIn: uint64(life.Seconds()), Scope: g.scopes}), nil
}

// serviceScopes: a service account gets the requested scopes that the
// scope maps of its groups (in any client) give it, less the user scopes.
func (p *Provider) serviceScopes(account string, requested []string) []string {
	allowed := map[string]bool{}
	for _, c := range p.State.Entries(entry.OAuth2Client) {
		if s, err := idmoauth2.ServiceScopes(p.State, c, account, requested); err == nil {
			for _, x := range s {
				allowed[x] = true
			}
		}
	}
	out := []string{}
	for _, s := range idmoauth2.NormalizeScopes(requested) {
		if allowed[s] {
			out = append(out, s)
		}
	}
	return out
}

func (s *server) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	p := s.p
	c, err := p.verifyAccess(r.Data.AccessToken, p.Now())
	if err != nil {
		return nil, op.NewStatusError(oidc.ErrInvalidRequest().WithDescription("the access token is not valid: %v", err), http.StatusUnauthorized)
	}
	cl, ok := p.lookupClient(c.ClientID)
	person, pok := p.State.Entry(c.Subject)
	if !ok || !pok || person.Class != entry.Person || person.Disabled {
		return nil, op.NewStatusError(oidc.ErrInvalidRequest().WithDescription("this token is not for a person"), http.StatusUnauthorized)
	}
	g := &grant{client: cl, clientID: cl.Name, subject: person.UUID, person: person, scopes: idmoauth2.SplitScopes(c.Scope)}
	out := p.userClaims(g)
	out["sub"] = person.UUID
	resp := op.NewResponse(out)
	resp.Header.Set("Cache-Control", "no-store")
	return resp, nil
}

func (s *server) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	p := s.p
	cl, err := p.verifyClient(ctx, r.Data.ClientCredentials.ClientID, r.Data.ClientCredentials.ClientSecret)
	if err != nil {
		return nil, err
	}
	if cl.public() {
		return nil, oidc.ErrInvalidClient().WithDescription("introspection needs an authenticated client")
	}
	inactive := op.NewResponse(map[string]any{"active": false})
	raw := r.Data.IntrospectionRequest.Token
	now := p.Now()
	if c, err := p.verifyAccess(raw, now); err == nil {
		if c.ClientID != cl.e.Name && !slices.Contains(c.Audience, cl.e.Name) {
			return inactive, nil
		}
		if !p.subjectActive(c.Subject) {
			return inactive, nil
		}
		out := map[string]any{"active": true, "scope": c.Scope, "client_id": c.ClientID, "sub": c.Subject, "aud": c.Audience,
			"exp": c.Expiry.Time().Unix(), "iat": c.IssuedAt.Time().Unix(), "iss": c.Issuer, "token_type": "Bearer", "jti": c.ID}
		if n := p.State.NameOf(c.Subject); n != "" {
			out["username"] = n
		}
		return op.NewResponse(out), nil
	}
	if rt, err := p.openRefresh(raw); err == nil && rt.Client == cl.e.UUID && now.UnixMilli() < rt.Expires && !p.State.IsRevoked(rt.Family) && p.subjectActive(rt.Account) {
		if fam, ok := p.State.OAuth2FamilyOf(rt.Family); ok && (fam.Revoked || rt.Generation < fam.Next) {
			return inactive, nil
		}
		return op.NewResponse(map[string]any{"active": true, "scope": strings.Join(rt.Scopes, " "), "client_id": cl.e.Name,
			"sub": rt.Account, "exp": rt.Expires / 1000, "iss": p.Issuer, "token_type": "refresh_token", "username": p.State.NameOf(rt.Account)}), nil
	}
	return inactive, nil
}

func (s *server) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (resp *op.Response, err error) {
	p := s.p
	cl := r.Client.(*client)
	ev := &grantEvent{grant: grantRevocation, client: cl.e.Name, remote: remoteOf(ctx)}
	var session, account string
	var exp time.Time
	if c, err := p.verifyAccess(r.Data.Token, p.Now()); err == nil && c.ClientID == cl.e.Name {
		session, account, exp = c.Session, c.Subject, c.Expiry.Time()
		if rt := p.Now().Add(RefreshLife); session != "" && rt.After(exp) {
			exp = rt // the family may outlive this access token
		}
	} else if rt, err := p.openRefresh(r.Data.Token); err == nil && rt.Client == cl.e.UUID {
		session, account, exp = rt.Family, rt.Account, time.UnixMilli(rt.Expires)
	}
	if session == "" || exp.Before(p.Now()) || p.State.IsRevoked(session) {
		return op.NewResponse(struct{}{}), nil // RFC 7009 §2.2: nothing to do is success
	}
	ev.account = p.State.NameOf(account)
	if err := p.Writer.Revoke(ctx, session, account, exp); err != nil {
		p.record(ev, unavailable(err))
		return nil, unavailable(err)
	}
	p.record(ev, nil)
	return op.NewResponse(struct{}{}), nil
}

// subjectActive: a token's subject (person or service account) still
// exists and is not disabled; the tokens of a disabled account are
// inactive at introspection as they are at userinfo.
func (p *Provider) subjectActive(id string) bool {
	if e, ok := p.State.Entry(id); ok && (e.Class == entry.Person || e.Class == entry.ServiceAccount) {
		return !e.Disabled
	}
	// A basic client acting for itself is its own subject.
	e, ok := p.State.Entry(id)
	return ok && e.Class == entry.OAuth2Client
}

// idTokenHint reads an ID token of ours (signature checked, expiry not,
// as OIDC RP-Initiated Logout allows). Only an ID token (typ JWT, with an
// audience and an azp) counts: an access token (at+jwt) is not a hint, and
// a session token has no audience.
func (p *Provider) idTokenHint(raw string) (map[string]any, bool) {
	if raw == "" || len(raw) > 16<<10 {
		return nil, false
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return nil, false
	}
	if typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "JWT") {
		return nil, false
	}
	k, ok := p.publicKey(tok.Headers[0].KeyID)
	if !ok {
		return nil, false
	}
	var m map[string]any
	if err := tok.Claims(k.Key, &m); err != nil || m["iss"] != p.Issuer {
		return nil, false
	}
	if azp, _ := m["azp"].(string); azp == "" || m["aud"] == nil {
		return nil, false
	}
	return m, true
}

func (s *server) EndSession(ctx context.Context, r *op.Request[oidc.EndSessionRequest]) (*op.Redirect, error) {
	p := s.p
	now := p.Now()
	hint, ok := p.idTokenHint(r.Data.IdTokenHint)
	if r.Data.IdTokenHint != "" && !ok {
		return nil, oidc.ErrInvalidRequest().WithDescription("id_token_hint is not an ID token of this provider")
	}
	clientID := r.Data.ClientID
	if hint != nil {
		azp, _ := hint["azp"].(string)
		if clientID != "" && clientID != azp {
			return nil, oidc.ErrInvalidRequest().WithDescription("client_id does not match the id_token_hint")
		}
		clientID = azp
	}
	hr := (&http.Request{Method: r.Method, URL: r.URL, Header: r.Header}).WithContext(ctx)
	if _, sess, err := p.Session(hr); err == nil {
		if err := p.Writer.Revoke(ctx, sess.SessionID, sess.Subject, sess.Expiry.Time()); err != nil {
			p.Log.Warn("oauth2: end session: revoking the login session failed", "error", err)
		}
	}
	if hint != nil {
		if sid, ok := hint[SessionClaim].(string); ok && sid != "" {
			sub, _ := hint["sub"].(string)
			if err := p.Writer.Revoke(ctx, sid, sub, now.Add(RefreshLife)); err != nil {
				p.Log.Warn("oauth2: end session: revoking the OAuth2 session failed", "error", err)
			}
		}
	}
	// Only a URI registered for the client (a redirect URI, or the origin an
	// admin set) is followed; anything else ends on the login page.
	target := "/ui/login"
	if c, ok := p.lookupClient(clientID); ok && r.Data.PostLogoutRedirectURI != "" {
		u := r.Data.PostLogoutRedirectURI
		if slices.Contains(c.OAuth2.RedirectURIs, u) || u == c.OAuth2.Origin || u == strings.TrimSuffix(c.OAuth2.Origin, "/") {
			target = u
			if r.Data.State != "" {
				target = withParams(u, "", map[string][]string{"state": {r.Data.State}})
			}
		}
	}
	red := op.NewRedirect(target)
	red.Header.Add("Set-Cookie", (&http.Cookie{Name: "__Host-gatehouse-session", Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}).String())
	return red, nil
}
