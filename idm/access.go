package idm

import "github.com/gatehouse-idm/gatehouse/idm/entry"

// Who may do what (docs/access-control.md):
//   - members of system_admins (admin): everything, including the denied
//     names and the membership of built-in groups;
//   - members of idm_admins (idm_admin): create, change and delete persons,
//     groups and service accounts, and set their passwords, except built-in
//     entries and entries inside system_admins (directly or nested);
//   - every authenticated account: read entries.

// IsSystemAdmin reports membership of system_admins.
func (s *Service) IsSystemAdmin(a Actor) bool {
	return a.UUID != "" && s.State.IsMemberOf(a.UUID, entry.UUIDSystemAdmins)
}

// IsIDMAdmin reports membership of idm_admins (or system_admins).
func (s *Service) IsIDMAdmin(a Actor) bool {
	return s.IsSystemAdmin(a) || (a.UUID != "" && s.State.IsMemberOf(a.UUID, entry.UUIDIDMAdmins))
}

// mayWrite decides whether actor may create (target nil) or change target.
func (s *Service) mayWrite(actor Actor, class entry.Class, target *entry.Entry) error {
	if actor == System || s.IsSystemAdmin(actor) {
		return nil
	}
	if !s.IsIDMAdmin(actor) {
		return Forbidden("%s may not change %ss: that needs membership of idm_admins", actor.Name, classWord(class))
	}
	if target != nil && target.Builtin {
		return Forbidden("%s is built in: only system_admins may change it", target.Name)
	}
	// An entry inside system_admins (directly or through nested groups)
	// holds system rights: letting idm_admins set its password or change
	// its members would let them become system administrators.
	if target != nil && s.State.IsMemberOf(target.UUID, entry.UUIDSystemAdmins) {
		return Forbidden("%s holds system_admins rights: only system_admins may change it", target.Name)
	}
	return nil
}
