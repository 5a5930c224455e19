package entry

// Well-known uuids of the built-in entries. They are fixed so that every
// cluster, and every node replaying the log, names them the same way.
const (
	UUIDAdmin                  = "00000000-0000-4000-8000-000000000000"
	UUIDIDMAdmin               = "00000000-0000-4000-8000-000000000001"
	UUIDIDMAdmins              = "00000000-0000-4000-8000-000000000100"
	UUIDIDMAllPersons          = "00000000-0000-4000-8000-000000000101"
	UUIDIDMAccountPolicyAdmins = "00000000-0000-4000-8000-000000000102"
	UUIDSystemAdmins           = "00000000-0000-4000-8000-000000000103"
)

// Builtins returns the entries every cluster starts with. admin is the
// system administrator (member of system_admins); idm_admin manages people,
// groups and service accounts (member of idm_admins). Neither has a password
// until `gatehouse recover-account` sets one.
func Builtins(now int64) []*Entry {
	mk := func(id string, c Class, name, display, desc string, members ...string) *Entry {
		return &Entry{UUID: id, Class: c, Name: name, DisplayName: display, Description: desc,
			Members: members, Builtin: true, Created: now, Updated: now}
	}
	all := mk(UUIDIDMAllPersons, Group, "idm_all_persons", "", "every person; holds the default account policy")
	all.Policy = DefaultPolicy()
	return []*Entry{
		mk(UUIDAdmin, ServiceAccount, "admin", "System Administrator", "may change everything"),
		mk(UUIDIDMAdmin, ServiceAccount, "idm_admin", "IDM Administrator", "manages people, groups and service accounts"),
		mk(UUIDSystemAdmins, Group, "system_admins", "", "full control of the system", UUIDAdmin),
		mk(UUIDIDMAdmins, Group, "idm_admins", "", "manage persons, groups and service accounts", UUIDIDMAdmin),
		all,
		mk(UUIDIDMAccountPolicyAdmins, Group, "idm_account_policy_admins", "", "manage account policy on groups", UUIDIDMAdmin),
	}
}

// DefaultDeniedNames are names no account may take: they would be mistaken
// for system or service identities.
var DefaultDeniedNames = []string{"root", "administrator", "system", "nobody", "daemon", "anonymous"}
