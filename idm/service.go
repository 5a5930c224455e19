package idm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idm/gatehouse/cluster"
	"github.com/gatehouse-idm/gatehouse/fsm"
	"github.com/gatehouse-idm/gatehouse/idm/entry"
	"github.com/gatehouse-idm/gatehouse/idm/password"
	"github.com/gatehouse-idm/gatehouse/ops/logging"
	"github.com/google/uuid"
)

// Proposer puts a command into the replicated log (cluster.Node).
type Proposer interface {
	Apply(ctx context.Context, cmd fsm.Command) (fsm.Result, error)
}

// Service is the identity service of one node.
type Service struct {
	State  *fsm.FSM
	Prop   Proposer
	Hasher *password.Hasher
	Audit  *logging.Audit
	Log    *slog.Logger
	Now    func() time.Time
	// Quality judges a new password for an account (zxcvbn, the badlist,
	// the policy's minimum length); nil keeps only the length floor.
	Quality func(acct *entry.Entry, pw string) error
}

// Actor is the account a request acts for.
type Actor struct {
	UUID string
	Name string
}

// System is the actor for work the cluster does on its own.
var System = Actor{Name: "system"}

// casRetries bounds how often an update is recomputed after another write
// changed the entry between our read and our proposal.
const casRetries = 5

// propose fills in the request id and time, proposes, maps refusals, and
// waits (bounded) until this node has applied the result so that the
// caller's next read here sees it.
func (s *Service) propose(ctx context.Context, actor Actor, typ string, body any) (fsm.Result, error) {
	cmd, err := fsm.NewCommand(typ, 1, newID(), s.Now().UnixMilli(), body)
	if err != nil {
		return fsm.Result{}, err
	}
	cmd.Actor = actor.UUID
	res, err := s.Prop.Apply(ctx, cmd)
	if err != nil {
		s.Log.Warn("write not committed", "command", typ, "error", err)
		if errors.Is(err, cluster.ErrNoLeader) {
			return res, AsError(err)
		}
		// Leadership lost mid-write, the leader unreachable, a timeout:
		// the outcome is unknown to us, and the client may retry.
		return res, Unavailable("the change could not be confirmed by the cluster (%v); it is safe to retry", err)
	}
	if res.Err != nil {
		return res, fromApply(res.Err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.State.WaitApplied(wctx, res.Index); err != nil {
		s.Log.Warn("write committed but not yet applied here", "index", res.Index, "error", err)
	}
	if s.Audit != nil {
		s.Audit.Change(actor.Name, typ, auditTarget(body), res.Index)
	}
	return res, nil
}

func auditTarget(body any) string {
	switch b := body.(type) {
	case fsm.EntryCreate:
		return b.Entry.Name
	case fsm.EntryUpdate:
		return b.Entry.Name
	case fsm.EntryDelete:
		return b.UUID
	case fsm.DeniedNames:
		return strings.Join(b.Names, ",")
	}
	return ""
}

// Lookup finds an entry by uuid, name or spn.
func (s *Service) Lookup(id string) (*entry.Entry, bool) {
	if e, ok := s.State.Entry(id); ok {
		return e, true
	}
	if name, domain, ok := strings.Cut(id, "@"); ok && domain == s.State.System().Domain {
		return s.State.Entry(name)
	}
	return nil, false
}

func (s *Service) lookupClass(id string, class entry.Class) (*entry.Entry, error) {
	e, ok := s.Lookup(id)
	if !ok || (class != "" && e.Class != class) {
		return nil, NotFound("no %s named %q", classWord(class), id)
	}
	return e, nil
}

func classWord(c entry.Class) string {
	switch c {
	case entry.ServiceAccount:
		return "service account"
	case "":
		return "entry"
	}
	return string(c)
}

// Input is what a client may set on an entry.
type Input struct {
	Name        *string   `json:"name"`
	DisplayName *string   `json:"displayname"`
	Mail        *[]string `json:"mail"`
	Description *string   `json:"description"`
	Members     *[]string `json:"members"` // names, uuids or spns; groups only, on create
	// Disabled stops (true) or allows (false) every login of an account.
	Disabled *bool `json:"disabled"`
}

func (in Input) apply(e *entry.Entry) {
	if in.Name != nil {
		e.Name = *in.Name
	}
	if in.DisplayName != nil {
		e.DisplayName = *in.DisplayName
	}
	if in.Mail != nil {
		e.Mail = slices.Clone(*in.Mail)
	}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if in.Disabled != nil {
		e.Disabled = *in.Disabled
	}
}

// precheck gives the clear, early answer for what Apply would refuse anyway.
func (s *Service) precheck(e *entry.Entry, oldName string) error {
	if err := e.Validate(); err != nil {
		return Invalid("%v", err)
	}
	if e.Name != oldName {
		if s.State.IsDenied(e.Name) {
			return Invalid("the name %q is on the denied names list", e.Name)
		}
		if _, taken := s.State.Entry(e.Name); taken {
			return Conflict("the name %q is already taken", e.Name)
		}
	}
	return nil
}

// resolveMembers maps member references to sorted, unique uuids.
func (s *Service) resolveMembers(refs []string) ([]string, error) {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		m, ok := s.Lookup(r)
		if !ok {
			return nil, NotFound("no entry named %q to add as a member", r)
		}
		out = append(out, m.UUID)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Create makes a new entry of class.
func (s *Service) Create(ctx context.Context, actor Actor, class entry.Class, in Input) (*entry.Entry, uint64, error) {
	if err := s.mayWrite(actor, class, nil); err != nil {
		return nil, 0, err
	}
	if in.Name == nil {
		return nil, 0, Invalid("name is required")
	}
	now := s.Now().UnixMilli()
	e := &entry.Entry{UUID: newID(), Class: class, Created: now, Updated: now}
	in.apply(e)
	if in.Members != nil {
		if class != entry.Group {
			return nil, 0, Invalid("only groups have members")
		}
		ms, err := s.resolveMembers(*in.Members)
		if err != nil {
			return nil, 0, err
		}
		e.Members = ms
	}
	if err := s.precheck(e, ""); err != nil {
		return nil, 0, err
	}
	res, err := s.propose(ctx, actor, fsm.TypeEntryCreate, fsm.EntryCreate{Entry: e})
	if err != nil {
		return nil, 0, err
	}
	return s.decodeEntry(res, e.UUID)
}

// newID makes time-ordered (version 7) uuids for entries and request ids:
// consecutive creates then land next to each other in the store's b-trees
// instead of dirtying a random page each.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// decodeEntry reads the entry a handler returned. A retried request that
// the FSM answered from its dedup table carries no value; the entry is then
// read from the state, which has applied it.
func (s *Service) decodeEntry(res fsm.Result, id string) (*entry.Entry, uint64, error) {
	if len(res.Value) == 0 {
		e, ok := s.State.Entry(id)
		if !ok {
			return nil, res.Index, NotFound("the entry was removed by a later change")
		}
		return e, res.Index, nil
	}
	var e entry.Entry
	if err := json.Unmarshal(res.Value, &e); err != nil {
		return nil, res.Index, fmt.Errorf("decode result: %w", err)
	}
	return &e, res.Index, nil
}

// update reads, lets change modify a copy, and proposes it with the version
// it read; if another write came first, it reads again (bounded).
func (s *Service) update(ctx context.Context, actor Actor, class entry.Class, id string, change func(*entry.Entry) error) (*entry.Entry, uint64, error) {
	for attempt := 0; ; attempt++ {
		old, err := s.lookupClass(id, class)
		if err != nil {
			return nil, 0, err
		}
		if err := s.mayWrite(actor, old.Class, old); err != nil {
			return nil, 0, err
		}
		e := old.Clone()
		if err := change(e); err != nil {
			return nil, 0, err
		}
		e.Updated = s.Now().UnixMilli()
		if err := s.precheck(e, old.Name); err != nil {
			return nil, 0, err
		}
		res, err := s.propose(ctx, actor, fsm.TypeEntryUpdate, fsm.EntryUpdate{Entry: e, ExpectedVersion: old.Version})
		if err != nil {
			if ae, ok := err.(*Error); ok && ae.Code == "conflict" && strings.Contains(ae.Msg, "changed concurrently") && attempt < casRetries {
				continue
			}
			return nil, 0, err
		}
		return s.decodeEntry(res, e.UUID)
	}
}

// Update changes the attributes in in.
func (s *Service) Update(ctx context.Context, actor Actor, class entry.Class, id string, in Input) (*entry.Entry, uint64, error) {
	if in.Members != nil {
		return nil, 0, Invalid("change members with the members endpoints")
	}
	return s.update(ctx, actor, class, id, func(e *entry.Entry) error {
		if e.Builtin && in.Name != nil && *in.Name != e.Name {
			return Forbidden("%s is built in and keeps its name", e.Name)
		}
		in.apply(e)
		return nil
	})
}

// ChangeMembers adds (add=true) or removes member references of a group.
func (s *Service) ChangeMembers(ctx context.Context, actor Actor, group string, refs []string, add bool) (*entry.Entry, uint64, error) {
	if len(refs) == 0 {
		return nil, 0, Invalid("no members given")
	}
	ids, err := s.resolveMembers(refs)
	if err != nil {
		return nil, 0, err
	}
	return s.update(ctx, actor, entry.Group, group, func(g *entry.Entry) error {
		if add {
			g.Members = append(g.Members, ids...)
			slices.Sort(g.Members)
			g.Members = slices.Compact(g.Members)
		} else {
			g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return slices.Contains(ids, m) })
		}
		if slices.Contains(g.Members, g.UUID) {
			return Invalid("a group cannot be a member of itself")
		}
		return nil
	})
}

// Delete removes an entry.
func (s *Service) Delete(ctx context.Context, actor Actor, class entry.Class, id string) (uint64, error) {
	e, err := s.lookupClass(id, class)
	if err != nil {
		return 0, err
	}
	if err := s.mayWrite(actor, e.Class, e); err != nil {
		return 0, err
	}
	if e.Builtin {
		return 0, Forbidden("%s is built in and cannot be deleted", e.Name)
	}
	res, err := s.propose(ctx, actor, fsm.TypeEntryDelete, fsm.EntryDelete{UUID: e.UUID, ExpectedVersion: e.Version})
	return res.Index, err
}

// MinPasswordLen is the floor until account policy (minimum length per
// group) and zxcvbn checks arrive with the credential-update work.
const MinPasswordLen = 10

// SetPassword hashes pw here and proposes the hash.
func (s *Service) SetPassword(ctx context.Context, actor Actor, id, pw string) (uint64, error) {
	if len([]rune(pw)) < MinPasswordLen {
		return 0, Invalid("the password must have at least %d characters", MinPasswordLen)
	}
	if len(pw) > 1024 {
		return 0, Invalid("the password is longer than 1024 bytes")
	}
	target, err := s.lookupClass(id, "")
	if err != nil {
		return 0, err
	}
	if target.Class == entry.Group {
		return 0, Invalid("groups have no password")
	}
	if err := s.mayWrite(actor, target.Class, target); err != nil {
		return 0, err
	}
	if s.Quality != nil {
		if err := s.Quality(target, pw); err != nil {
			return 0, err
		}
	}
	phc, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return 0, err
	}
	_, idx, err := s.update(ctx, actor, target.Class, target.UUID, func(e *entry.Entry) error {
		e.PasswordHash = phc
		e.PasswordGenerated = false
		return nil
	})
	return idx, err
}

// ChangeDeniedNames appends or removes denied names.
func (s *Service) ChangeDeniedNames(ctx context.Context, actor Actor, names []string, add bool) (uint64, error) {
	if !s.IsSystemAdmin(actor) {
		return 0, Forbidden("only members of system_admins may change the denied names")
	}
	if len(names) == 0 {
		return 0, Invalid("no names given")
	}
	for _, n := range names {
		if err := entry.ValidateName(n); err != nil {
			return 0, Invalid("%v", err)
		}
	}
	typ := fsm.TypeDeniedNamesRemove
	if add {
		typ = fsm.TypeDeniedNamesAppend
	}
	res, err := s.propose(ctx, actor, typ, fsm.DeniedNames{Names: names})
	return res.Index, err
}
