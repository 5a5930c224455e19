package oauth2

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	idmoauth2 "github.com/gatehouse-idm/gatehouse/idm/oauth2"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Device grant (RFC 8628).

// Bounds of the device grant on one node (in memory: a bound per node is
// enough to stop a guesser, and keeps the pages off the Raft path).
const (
	// MaxUserCodeMisses: wrong user codes one account may enter per
	// UserCodeMissWindow before the page refuses to look codes up. With
	// 20^8 codes and at most a few hundred pending, guessing a live one
	// takes ~10^8 tries; 10 per 10 minutes per node makes it hopeless.
	MaxUserCodeMisses  = 10
	UserCodeMissWindow = 10 * time.Minute
	// DeviceCreateRate and DeviceCreateBurst bound device authorizations
	// (each one a Raft write, open to public clients) per node and second.
	DeviceCreateRate  = 20
	DeviceCreateBurst = 100
	maxTracked        = 10000
)

// deviceLimits: the user-code guess counters per account, the last poll
// of each device code (slow_down), and the device-creation token bucket.
type deviceLimits struct {
	mu       sync.Mutex
	misses   map[string]missWindow
	polls    map[string]time.Time
	tokens   float64
	tokensAt time.Time
}

type missWindow struct {
	start time.Time
	n     int
}

// blocked reports whether account has used up its wrong guesses.
func (d *deviceLimits) blocked(account string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.misses[account]
	return ok && now.Sub(m.start) < UserCodeMissWindow && m.n >= MaxUserCodeMisses
}

// miss counts a wrong user code of account.
func (d *deviceLimits) miss(account string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.misses == nil {
		d.misses = map[string]missWindow{}
	}
	if len(d.misses) >= maxTracked {
		for k, v := range d.misses {
			if now.Sub(v.start) >= UserCodeMissWindow {
				delete(d.misses, k)
			}
		}
	}
	m := d.misses[account]
	if now.Sub(m.start) >= UserCodeMissWindow {
		m = missWindow{start: now}
	}
	m.n++
	if len(d.misses) < maxTracked || m.n > 1 {
		d.misses[account] = m
	}
}

// poll records a token request for a device code and reports whether it
// came sooner than the interval allows (one second of slack for jitter).
func (d *deviceLimits) poll(hash string, now time.Time) (tooSoon bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.polls == nil {
		d.polls = map[string]time.Time{}
	}
	if len(d.polls) >= maxTracked {
		for k, v := range d.polls {
			if now.Sub(v) > DeviceLife {
				delete(d.polls, k)
			}
		}
		if len(d.polls) >= maxTracked {
			d.polls = map[string]time.Time{}
		}
	}
	last, seen := d.polls[hash]
	d.polls[hash] = now
	return seen && now.Sub(last) < time.Duration(DeviceInterval)*time.Second-time.Second
}

// allowCreate takes a token from the device-creation bucket.
func (d *deviceLimits) allowCreate(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tokensAt.IsZero() {
		d.tokens, d.tokensAt = DeviceCreateBurst, now
	}
	d.tokens += now.Sub(d.tokensAt).Seconds() * DeviceCreateRate
	d.tokensAt = now
	if d.tokens > DeviceCreateBurst {
		d.tokens = DeviceCreateBurst
	}
	if d.tokens < 1 {
		return false
	}
	d.tokens--
	return true
}

const userCodeChars = "BCDFGHJKLMNPQRSTVWXZ"

// newUserCode: 8 characters drawn uniformly (rejection sampling) from 20
// consonants, about 34.6 bits, as RFC 8628 §6.1 suggests.
func newUserCode() string {
	out := make([]byte, 0, 9)
	var buf [16]byte
	for len(out) < 9 {
		rand.Read(buf[:])
		for _, b := range buf {
			if b >= 240 { // 240 = 12*20: keep the draw uniform
				continue
			}
			if len(out) == 4 {
				out = append(out, '-')
			}
			out = append(out, userCodeChars[int(b)%len(userCodeChars)])
			if len(out) == 9 {
				break
			}
		}
	}
	return string(out)
}

// normalizeUserCode accepts what a person types: any case, with or without
// the dash, spaces around.
func normalizeUserCode(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) == 8 && !strings.Contains(s, "-") {
		s = s[:4] + "-" + s[4:]
	}
	return s
}

func deviceHash(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

func (s *server) DeviceAuthorization(ctx context.Context, r *op.ClientRequest[oidc.DeviceAuthorizationRequest]) (resp *op.Response, err error) {
	p := s.p
	cl := r.Client.(*client)
	ev := &grantEvent{grant: grantDeviceAuth, client: cl.e.Name, remote: remoteOf(ctx)}
	defer func() { p.record(ev, err) }()
	if cl.e.Class != entry.OAuth2Client {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("only OAuth2 clients use the device grant")
	}
	scopes := idmoauth2.NormalizeScopes(r.Data.Scopes)
	if len(scopes) == 0 {
		return nil, oidc.ErrInvalidScope().WithDescription("no scope requested")
	}
	ev.scopes = scopes
	now := p.Now()
	if !p.device.allowCreate(now) {
		return nil, op.NewStatusError(oidc.ErrServerError().WithDescription("too many device authorizations on this node; retry shortly"), http.StatusTooManyRequests)
	}
	code := randomString(32)
	var userCode string
	for range 3 {
		userCode = newUserCode()
		err = p.Writer.CreateDevice(ctx, fsm.OAuth2Device{Hash: deviceHash(code), UserCode: userCode, Client: cl.e.UUID,
			Scopes: scopes, Created: now.UnixMilli(), Expires: now.Add(DeviceLife).UnixMilli(), State: fsm.DevicePending})
		if err == nil || !strings.Contains(err.Error(), "already in use") {
			break
		}
	}
	if err != nil {
		return nil, unavailable(err)
	}
	uri := p.Issuer + PathUIDevice
	return op.NewResponse(&oidc.DeviceAuthorizationResponse{DeviceCode: code, UserCode: userCode, VerificationURI: uri,
		VerificationURIComplete: uri + "?user_code=" + userCode, ExpiresIn: int(DeviceLife.Seconds()), Interval: DeviceInterval}), nil
}

func (s *server) DeviceToken(ctx context.Context, r *op.ClientRequest[oidc.DeviceAccessTokenRequest]) (resp *op.Response, err error) {
	p := s.p
	cl := r.Client.(*client)
	ev := &grantEvent{grant: grantDeviceCode, client: cl.e.Name, remote: remoteOf(ctx)}
	defer func() { p.record(ev, err) }()
	now := p.Now()
	hash := deviceHash(r.Data.DeviceCode)
	d, ok := p.State.OAuth2DeviceOf(hash)
	if !ok || d.Client != cl.e.UUID {
		return nil, oidc.ErrExpiredDeviceCode()
	}
	if now.UnixMilli() > d.Expires {
		return nil, oidc.ErrExpiredDeviceCode()
	}
	if p.device.poll(hash, now) {
		return nil, oidc.ErrSlowDown().WithDescription("poll at most every %d seconds, 5 more after each slow_down", DeviceInterval)
	}
	switch d.State {
	case fsm.DevicePending:
		return nil, oidc.ErrAuthorizationPending()
	case fsm.DeviceDenied:
		return nil, oidc.ErrAccessDenied().WithDescription("the user denied the request")
	}
	d, err = p.Writer.ConsumeDevice(ctx, hash)
	if err != nil {
		if strings.Contains(err.Error(), "no approved device grant") {
			return nil, oidc.ErrExpiredDeviceCode()
		}
		return nil, unavailable(err)
	}
	g, err := p.personGrant(d.Client, d.Account)
	if err != nil {
		return nil, err
	}
	ev.account, ev.scopes = g.person.Name, d.Granted
	g.scopes, g.authTime, g.amr = d.Granted, time.UnixMilli(d.AuthTime), d.AMR
	g.session = p.NodeID + "." + randomString(16)
	g.limit = now.Add(AccessTokenLife)
	var rt *refreshToken
	if slices.Contains(g.scopes, idmoauth2.ScopeOfflineAccess) {
		exp := now.Add(RefreshLife)
		rt = &refreshToken{Family: g.session, Account: g.subject, Client: d.Client, Scopes: g.scopes, AuthTime: d.AuthTime / 1000, AMR: d.AMR, Expires: exp.UnixMilli()}
		g.limit = exp
	}
	return p.issue(g, "", rt, now)
}

// uiDevice is the device user-code page: GET shows the code form (or the
// confirmation for ?user_code=), POST approves or denies. Looking a code up
// needs a logged-in person and counts wrong codes (MaxUserCodeMisses);
// the decision needs the confirmation form, bound to the session and the
// code (bind.go).
func (p *Provider) uiDevice(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "the form could not be read")
		return
	}
	code := normalizeUserCode(r.Form.Get("user_code"))
	if len(code) > 32 {
		code = ""
	}
	next := PathUIDevice
	if code != "" {
		next += "?user_code=" + url.QueryEscape(code)
	}
	sess := p.login(w, r, next, true)
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
	now := p.Now()
	if p.device.blocked(acct.UUID, now) {
		p.Log.Warn("oauth2: device user code lookups blocked after too many wrong codes", "account", acct.Name, "remote", r.RemoteAddr)
		p.page(w, http.StatusTooManyRequests, pageData{Title: title, Error: "Too many wrong codes: wait a few minutes, then start again on the device."})
		return
	}
	d, ok := p.State.OAuth2DeviceByUserCode(code)
	if !ok && p.Consistent != nil {
		// Created through another node an instant ago? Catch up once.
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		if idx, err := p.Consistent(ctx); err == nil && p.State.WaitApplied(ctx, idx) == nil {
			d, ok = p.State.OAuth2DeviceByUserCode(code)
		}
		cancel()
	}
	if !ok || d.State != fsm.DevicePending || now.UnixMilli() > d.Expires {
		p.device.miss(acct.UUID, now)
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
	confirm := pageData{Title: title, DeviceConfirm: true, Client: name, Origin: c.OAuth2.Origin, Account: acct.Name,
		UserCode: code, Scopes: granted, Form: p.formToken(bindDevice, sess.SessionID, code)}
	if r.Method != http.MethodPost {
		p.page(w, http.StatusOK, confirm)
		return
	}
	if !p.checkFormToken(bindDevice, r.PostForm.Get("form"), sess.SessionID, code) {
		// Not an answer to the confirmation page of this session: show it.
		confirm.Error = "Confirm on this page that the code is the one your device shows."
		p.page(w, http.StatusForbidden, confirm)
		return
	}
	approve := r.PostForm.Get("decision") == "approve"
	ev := &grantEvent{grant: grantDeviceDecision, client: c.Name, account: acct.Name, remote: r.RemoteAddr, scopes: granted}
	err = p.Writer.DecideDevice(r.Context(), fsm.OAuth2DeviceDecide{UserCode: code, Account: acct.UUID, Approve: approve,
		Granted: granted, AuthTime: sessionAuthTime(sess).UnixMilli(), AMR: idmoauth2.AMR(sess.Mechanism)})
	if err != nil {
		ev.result, ev.reason = resultError, err.Error()
		p.record(ev, nil)
		confirm.Error = "Your answer could not be recorded: the cluster may have no leader right now. Try again in a moment. (" + err.Error() + ")"
		p.page(w, http.StatusServiceUnavailable, confirm)
		return
	}
	msg := "Done: the device is signed in. You can close this page."
	if !approve {
		msg = "The request was denied."
		ev.result, ev.reason = resultDenied, "access_denied: the user denied the request"
	}
	p.record(ev, nil)
	p.page(w, http.StatusOK, pageData{Title: title, Message: msg})
}
