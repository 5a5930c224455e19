package sso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/protocols/upstream"
)

// Outcome is what Resolve decided for a finished upstream login.
type Outcome struct {
	// Account is the account the identity logs in as.
	Account *entry.Entry
	// Created: the account was made just now (JIT); Linked: the identity
	// was linked to the account just now.
	Created, Linked bool
	// Pending: the account was created by a first SSO login without
	// auto-enable and waits for an administrator ("Pending approval").
	Pending bool
	// Username is the account's name.
	Username string
	// Notes say what was decided and why (a name collision resolved, the
	// claim the name came from), for the audit and the user.
	Notes []string
}

// Messages the login shows.
const (
	MsgPending = "Pending approval"
)

// Errors of Resolve and Link.
var (
	ErrNoAccount       = errors.New("no account for this identity and automatic creation is off")
	ErrSSOOff          = errors.New("single sign-on is turned off for this account")
	ErrProviderOff     = errors.New("SSO provider not found: the provider is disabled")
	ErrAmbiguousEmail  = errors.New("several accounts have this e-mail address; ask an administrator to link your identity")
	ErrAdminEmail      = errors.New("an account with administrator rights is never linked by e-mail: sign in to it and link this provider from your account page")
	ErrLinkedElsewhere = errors.New("this identity is already linked to another account")
)

// pendingMarker starts the description of an account a first SSO login
// created without auto-enable; with Disabled it means "Pending approval".
const pendingMarker = "Created at first sign-in through "

// IsPending reports whether acct waits for approval after a JIT creation.
func IsPending(acct *entry.Entry) bool {
	return acct.Disabled && strings.HasPrefix(acct.Description, pendingMarker)
}

// resolveRetries bounds recomputing after a concurrent login of the same
// identity, or a concurrent create of the same name.
const resolveRetries = 3

// Resolve maps an identity a provider vouched for to an account: an
// existing link; else the account linkTo (a uuid or name: linking while
// logged in); else the one person whose mail equals the identity's
// verified e-mail; else a new person when automatic creation applies
// (provider override, else the global setting). Writes go out as the
// cluster itself: the upstream login is the proof.
func (s *Service) Resolve(ctx context.Context, p *entry.SSOProvider, id upstream.Identity, linkTo string) (Outcome, error) {
	if !p.Enabled {
		return Outcome{}, ErrProviderOff
	}
	if id.Subject == "" {
		return Outcome{}, idm.Invalid("the provider sent no subject for the user")
	}
	var lastErr error
	for range resolveRetries {
		out, err := s.resolveOnce(ctx, p, id, linkTo)
		if err == nil {
			if !s.SSOAllowed(out.Account) {
				return Outcome{}, fmt.Errorf("account %s: %w", out.Account.Name, ErrSSOOff)
			}
			out.Username = out.Account.Name
			out.Pending = IsPending(out.Account)
			return out, nil
		}
		var ie *idm.Error
		if !errors.As(err, &ie) || ie.Code != "conflict" {
			return Outcome{}, err
		}
		lastErr = err // a concurrent write: decide again on the new state
	}
	return Outcome{}, lastErr
}

func (s *Service) resolveOnce(ctx context.Context, p *entry.SSOProvider, id upstream.Identity, linkTo string) (Outcome, error) {
	if acct, ok := s.state().EntryByExternalID(p.UUID, id.Subject); ok {
		if linkTo != "" {
			if t, ok := s.IDM.Lookup(linkTo); !ok || t.UUID != acct.UUID {
				return Outcome{}, ErrLinkedElsewhere
			}
		}
		return Outcome{Account: acct}, nil
	}
	if linkTo != "" {
		acct, err := s.Link(ctx, linkTo, p, id)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Account: acct, Linked: true, Notes: []string{"linked to the signed-in account"}}, nil
	}
	if email := strings.TrimSpace(id.Email); email != "" && s.emailVerified(p, id) {
		var match []*entry.Entry
		for _, e := range s.state().Entries(entry.Person) {
			if slices.ContainsFunc(e.Mail, func(m string) bool { return strings.EqualFold(m, email) }) {
				match = append(match, e)
			}
		}
		switch {
		case len(match) > 1:
			return Outcome{}, ErrAmbiguousEmail
		case len(match) == 1:
			if s.holdsAdminRights(match[0]) {
				return Outcome{}, ErrAdminEmail
			}
			acct, err := s.Link(ctx, match[0].UUID, p, id)
			if err != nil {
				return Outcome{}, err
			}
			return Outcome{Account: acct, Linked: true, Notes: []string{"linked by verified e-mail " + email}}, nil
		}
	}
	settings := s.Settings()
	autoCreate := !settings.NoAutoCreate
	if p.AutoCreate != nil {
		autoCreate = *p.AutoCreate
	}
	if !autoCreate {
		return Outcome{}, ErrNoAccount
	}
	autoEnable := settings.AutoEnable
	if p.AutoEnable != nil {
		autoEnable = *p.AutoEnable
	}
	return s.create(ctx, p, id, autoEnable)
}

// emailVerified: the provider said so, or it is a plain OAuth2 provider
// the admin marked as trusted for e-mail. An LDAP directory's mail
// attribute counts only when the admin marked the provider so: some
// directories let people edit their own mail, and a verified address
// links the login to an existing account.
func (s *Service) emailVerified(p *entry.SSOProvider, id upstream.Identity) bool {
	switch {
	case p.LDAP != nil:
		return p.LDAP.TrustEmail
	case p.OAuth2 != nil && p.OAuth2.TrustEmail:
		return true
	}
	return id.EmailVerified
}

func (s *Service) holdsAdminRights(e *entry.Entry) bool {
	return s.state().IsMemberOf(e.UUID, entry.UUIDSystemAdmins) || s.state().IsMemberOf(e.UUID, entry.UUIDIDMAdmins)
}

func (s *Service) create(ctx context.Context, p *entry.SSOProvider, id upstream.Identity, autoEnable bool) (Outcome, error) {
	base, from := UsernameFrom(p.UsernameAttribute, id)
	var notes []string
	if from != "" {
		notes = append(notes, fmt.Sprintf("name %q from %s", base, from))
	} else {
		notes = append(notes, fmt.Sprintf("no usable name claim; name %q made from the subject", base))
	}
	if s.reservedLookalike(base) {
		// "admin" would become "admin-2": a name an administrator reading
		// a list or an audit line takes for the built-in account. Such a
		// claim gives the subject-derived name instead.
		notes = append(notes, fmt.Sprintf("%q is, or looks like, a built-in or denied name", base))
		base = subjectName(id.Subject)
	}
	name := s.freeName(base, p.UUID, id.Subject)
	if name != base {
		notes = append(notes, fmt.Sprintf("the name %q is taken or denied; created %q instead", base, name))
	}
	now := s.now().UnixMilli()
	e := &entry.Entry{UUID: newID(), Class: entry.Person, Name: name, DisplayName: cleanText(id.DisplayName),
		Disabled: !autoEnable, Created: now, Updated: now,
		Description: cleanText(pendingMarker + p.Name),
		ExternalIDs: []entry.ExternalID{{Provider: p.UUID, Subject: id.Subject, Email: cleanMail(id.Email), Linked: now}}}
	// Only a verified address is kept: an unverified one on an account
	// would let a later verified login with that address link to it.
	if m := cleanMail(id.Email); m != "" && s.emailVerified(p, id) {
		e.Mail = []string{m}
	}
	if !e.Disabled {
		e.Description = cleanText("Created at first sign-in (approved automatically) through " + p.Name)
	}
	if err := e.Validate(); err != nil {
		return Outcome{}, idm.Invalid("Account processing failed: %v", err)
	}
	if _, err := s.propose(ctx, idm.System, fsm.TypeEntryCreate, fsm.EntryCreate{Entry: e}, e.Name); err != nil {
		return Outcome{}, err
	}
	acct, ok := s.state().Entry(e.UUID)
	if !ok {
		acct = e
	}
	if e.Disabled {
		notes = append(notes, "auto-enable is off: the account waits for an administrator")
	}
	return Outcome{Account: acct, Created: true, Notes: notes}, nil
}

// freeName returns base if it is free, else base-2 … base-9, else base
// with 8 hex digits of a hash of provider and subject: the same identity
// always gets the same answer on the same state.
func (s *Service) freeName(base, provider, subject string) string {
	free := func(n string) bool {
		if entry.ValidateName(n) != nil || s.state().IsDenied(n) {
			return false
		}
		_, taken := s.state().Entry(n)
		return !taken
	}
	if free(base) {
		return base
	}
	for i := 2; i <= 9; i++ {
		if n := withSuffix(base, fmt.Sprintf("-%d", i)); free(n) {
			return n
		}
	}
	sum := sha256.Sum256([]byte(provider + "|" + subject))
	return withSuffix(base, "-"+hex.EncodeToString(sum[:4]))
}

// builtinNames are the names of the entries every cluster starts with.
var builtinNames = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range entry.Builtins(0) {
		m[e.Name] = true
	}
	return m
}()

// reservedLookalike reports whether n is a built-in or denied name, or one
// of them followed by a separator and anything ("admin-2", "root.ops",
// "idm_admin_x"): a JIT name must not pass for a system identity.
func (s *Service) reservedLookalike(n string) bool {
	reserved := func(x string) bool { return builtinNames[x] || s.state().IsDenied(x) }
	if reserved(n) {
		return true
	}
	for i := 0; i < len(n); i++ {
		if (n[i] == '-' || n[i] == '.' || n[i] == '_') && reserved(n[:i]) {
			return true
		}
	}
	return false
}

// subjectName is the name of an identity without a usable name claim.
func subjectName(subject string) string {
	sum := sha256.Sum256([]byte(subject))
	return "user-" + hex.EncodeToString(sum[:4])
}

func withSuffix(base, suffix string) string {
	if len(base)+len(suffix) > entry.MaxNameLen {
		base = strings.TrimRight(base[:entry.MaxNameLen-len(suffix)], "-._")
	}
	return base + suffix
}

// UsernameClaims are tried after the provider's username attribute, in
// this order; then the e-mail address.
var UsernameClaims = []string{"preferred_username", "username", "user_name", "login", "nickname", "name"}

// UsernameFrom picks an account name for an identity: the first claim
// (attr, then UsernameClaims, then the e-mail) that normalises to a valid
// name, and which claim it came from. Without one the name is "user-" and
// 8 hex digits of a hash of the subject (from is then "").
func UsernameFrom(attr string, id upstream.Identity) (name, from string) {
	claims := UsernameClaims
	if attr != "" {
		claims = append([]string{attr}, UsernameClaims...)
	}
	for _, c := range claims {
		if n := NormaliseName(claimString(id.Claims[c])); n != "" {
			return n, "claim " + c
		}
	}
	mail := id.Email
	if mail == "" {
		mail = claimString(id.Claims["email"])
	}
	if n := NormaliseName(mail); n != "" {
		return n, "the e-mail address"
	}
	return subjectName(id.Subject), ""
}

func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		if len(x) > 0 {
			return x[0]
		}
	case []any:
		if len(x) > 0 {
			if s, ok := x[0].(string); ok {
				return s
			}
		}
	}
	return ""
}

// NormaliseName turns a claim into a name of our rules, or "": anything
// from '@' on is dropped (an e-mail or UPN gives its local part), letters
// are lower-cased, white space becomes '-', characters outside a-z 0-9 _ -
// . are dropped, runs of separators collapse, the name starts with a letter
// and is cut to entry.MaxNameLen.
func NormaliseName(v string) string {
	if i := strings.IndexByte(v, '@'); i >= 0 {
		v = v[:i]
	}
	var b strings.Builder
	lastSep := false
	for _, r := range strings.ToLower(v) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			lastSep = false
		case r == '_' || r == '-' || r == '.' || r == ' ' || r == '\t':
			if !lastSep {
				if r == ' ' || r == '\t' {
					r = '-'
				}
				b.WriteRune(r)
				lastSep = true
			}
		}
	}
	n := strings.TrimLeftFunc(b.String(), func(r rune) bool { return r < 'a' || r > 'z' })
	if len(n) > entry.MaxNameLen {
		n = n[:entry.MaxNameLen]
	}
	n = strings.TrimRight(n, "-._")
	if entry.ValidateName(n) != nil {
		return ""
	}
	return n
}

func cleanText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	for len(s) > entry.MaxTextLen {
		r := []rune(s)
		s = string(r[:len(r)-1])
	}
	return s
}

func cleanMail(m string) string {
	m = strings.TrimSpace(m)
	if entry.ValidateMail(m) != nil || entry.ValidateText("mail", m) != nil {
		return ""
	}
	return m
}

// Link links an identity at p to account (a uuid or name), as the cluster:
// the caller has proven both (a logged-in user finishing an upstream login,
// or Resolve). Linking an identity already linked here changes nothing; one
// linked to another account is refused.
func (s *Service) Link(ctx context.Context, account string, p *entry.SSOProvider, id upstream.Identity) (*entry.Entry, error) {
	if id.Subject == "" {
		return nil, idm.Invalid("the provider sent no subject for the user")
	}
	for attempt := 0; ; attempt++ {
		acct, ok := s.IDM.Lookup(account)
		if !ok || acct.Class != entry.Person {
			return nil, idm.NotFound("no person named %q", account)
		}
		if other, ok := s.state().EntryByExternalID(p.UUID, id.Subject); ok {
			if other.UUID == acct.UUID {
				return acct, nil
			}
			return nil, ErrLinkedElsewhere
		}
		if !s.SSOAllowed(acct) {
			return nil, fmt.Errorf("account %s: %w", acct.Name, ErrSSOOff)
		}
		e := acct.Clone()
		now := s.now().UnixMilli()
		e.ExternalIDs = append(e.ExternalIDs, entry.ExternalID{Provider: p.UUID, Subject: id.Subject, Email: cleanMail(id.Email), Linked: now})
		e.Updated = now
		if err := e.Validate(); err != nil {
			return nil, idm.Invalid("%v", err)
		}
		_, err := s.propose(ctx, idm.System, fsm.TypeEntryUpdate, fsm.EntryUpdate{Entry: e, ExpectedVersion: acct.Version}, e.Name)
		if err != nil {
			if isConcurrent(err) && attempt < casRetries {
				continue
			}
			return nil, err
		}
		cur, ok := s.state().Entry(e.UUID)
		if !ok {
			cur = e
		}
		return cur, nil
	}
}

// Unlink removes a linked identity from an account: by the account itself
// or an idm admin. It is refused when it is the account's last way to log
// in (no password, no passkey, no Kerberos principal, no other identity).
func (s *Service) Unlink(ctx context.Context, actor idm.Actor, account, provider, subject string) (*entry.Entry, uint64, error) {
	providerID := provider
	if p, err := s.Lookup(provider); err == nil {
		providerID = p.UUID
	}
	return s.updateAccount(ctx, actor, account, true, func(e *entry.Entry) error {
		i := slices.IndexFunc(e.ExternalIDs, func(x entry.ExternalID) bool { return x.Provider == providerID && x.Subject == subject })
		if i < 0 {
			return idm.NotFound("%s has no linked identity %q at provider %s", e.Name, subject, provider)
		}
		e.ExternalIDs = slices.Delete(e.ExternalIDs, i, i+1)
		if len(e.ExternalIDs) == 0 {
			e.ExternalIDs = nil
		}
		if e.PasswordHash == "" && len(e.Passkeys) == 0 && len(e.KerberosPrincipals) == 0 && len(e.ExternalIDs) == 0 {
			return idm.Conflict("this is the last way %s can log in (no password, passkey, Kerberos principal or other linked identity): "+
				"add another before unlinking it", e.Name)
		}
		return nil
	})
}
