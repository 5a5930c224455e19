package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/fido"
	"github.com/gatehouse-idm/gatehouse/idm/pwquality"
	"github.com/gatehouse-idm/gatehouse/ops/badlist"
	"github.com/gatehouse-idm/gatehouse/ops/config"
)

// newRelyingParty builds the WebAuthn relying party: the RP ID is a
// domain (browsers refuse IP addresses), and every origin a page may be
// served from, port included, must be listed.
func newRelyingParty(cfg *config.Config) (*fido.RP, error) {
	w := cfg.WebAuthn
	rpID := w.RPID
	if rpID == "" {
		rpID = "localhost"
		if u, err := url.Parse(cfg.Origin); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
			rpID = u.Hostname()
		}
	}
	name := w.RPName
	if name == "" {
		name = "Gatehouse"
	}
	origins := slices.Clone(w.Origins)
	if cfg.Origin != "" {
		origins = append(origins, cfg.Origin)
	}
	if _, port, err := net.SplitHostPort(cfg.API.Listen); err == nil {
		origins = append(origins, "https://localhost:"+port)
	}
	slices.Sort(origins)
	rp, err := fido.New(rpID, name, slices.Compact(origins))
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return rp, nil
}

// passwordQuality is pwquality.CheckAccount as the service's hook, its
// refusal a 400 with zxcvbn's feedback in the message.
func passwordQuality(f *fsm.FSM) func(acct *entry.Entry, pw string) error {
	return func(acct *entry.Entry, pw string) error {
		if err := pwquality.CheckAccount(f, acct, pw); err != nil {
			return idm.Invalid("%v", err)
		}
		return nil
	}
}

// sessionRecorder writes session records after logins (rule 4: the login
// has already answered). A record that cannot be written now (no leader,
// a timeout) is tried again with a growing pause until it lands or its
// session expires, so that logins made without a leader still show up in
// the session list and can be revoked there. The queue is bounded: under
// a flood, records are dropped with a warning rather than piling up (the
// sessions stay valid; they are only not listed).
func sessionRecorder(svc *idm.Service, log *slog.Logger) func(fsm.Session) {
	type item struct {
		s       fsm.Session
		attempt int
	}
	q := make(chan item, 4096)
	enqueue := func(it item) {
		select {
		case q <- it:
		default:
			log.Warn("session record dropped: too many waiting", "session", it.s.ID)
		}
	}
	for range 4 {
		go func() {
			for it := range q {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := svc.RecordSession(ctx, it.s)
				cancel()
				if err == nil {
					continue
				}
				if idm.AsError(err).Status < 500 || time.Now().UnixMilli() >= it.s.Expires {
					log.Warn("session record not written", "session", it.s.ID, "error", err)
					continue
				}
				delay := min(time.Second<<min(it.attempt, 5), 30*time.Second)
				log.Info("session record not written yet; retrying", "session", it.s.ID, "in", delay, "error", err)
				next := item{it.s, it.attempt + 1}
				time.AfterFunc(delay, func() { enqueue(next) })
			}
		}()
	}
	return func(s fsm.Session) { enqueue(item{s: s}) }
}

// appendDefaultBadlist stores the shipped badlist, or what of it is not
// stored yet: it goes in as more than one command, and leadership may move
// between them.
func (n *node) appendDefaultBadlist(ctx context.Context) error {
	list, err := badlist.Default()
	if err != nil {
		return err
	}
	list = slices.DeleteFunc(list, n.fsm.IsBadlisted)
	if len(list) == 0 {
		return nil
	}
	added, err := n.svc.AppendBadlist(ctx, idm.System, list)
	if err != nil {
		return err
	}
	n.log.Info("default password badlist stored", "passwords", added)
	return nil
}
