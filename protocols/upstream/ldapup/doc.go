// Package ldapup logs a person in against an LDAP directory or Active
// Directory (the "LDAP / Active Directory" provider type) and reports
// "test connection" in words.
//
// A login is the usual search-then-bind: bind as the service account,
// search the base DN (subtree) with the administrator's user filter, in
// which %s is replaced by the RFC 4515-escaped username (so a name such as
// "*" or "alice)(uid=*" is a literal value, never filter syntax), require
// exactly one entry, then bind as that entry's DN with the password.
//
// Decisions:
//   - An empty password is refused before anything is sent: an LDAP simple
//     bind with a DN and no password is an "unauthenticated bind" that many
//     servers answer with success (RFC 4513 §5.1.2).
//   - A wrong password, an unknown user and a filter that finds several
//     entries all answer ErrInvalidCredentials ("Invalid credentials"), so
//     the login does not reveal whether a name exists; when no single
//     entry is found, a decoy bind (a random DN under the base DN that
//     cannot exist) spends the round trip a user bind would have cost, so
//     the answer's timing does not tell either.
//   - The service account failing to bind is its own error (ErrServiceBind):
//     it is the administrator's problem, not the user's password, and the
//     seed's troubleshooting entry ("LDAP Invalid credentials: wrong bind
//     DN or password") is in its text.
//   - Subject is the entry's entryUUID (OpenLDAP, RFC 4530) or objectGUID
//     (Active Directory, formatted as a GUID string), which survive a
//     rename; only a directory with neither falls back to the DN.
//   - EmailVerified is false: whether a directory's mail attribute can be
//     trusted depends on who may edit it there, so the provider's
//     trust_email setting decides (idm/sso).
//   - MFA is always false: a bind proves one factor, so the login always
//     asks for a local second factor after it (the seed's "LDAP + Local
//     MFA").
//   - TLS: ldaps:// or StartTLS, verified against the system roots or the
//     configured CA. SkipVerify turns verification off and logs a warning
//     every time it is used. Plain ldap:// without StartTLS sends the
//     password in clear: it works (tests use it) but is for tests only, and
//     Test reports it as a failed check.
//   - Config.Timeout (default 10 s) bounds the whole login, connection
//     included; a cancelled context closes the connection at once.
package ldapup
