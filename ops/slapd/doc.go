// Package slapd runs a real OpenLDAP server (Debian's slapd package) for
// tests: one directory per folder, configured with a generated slapd.conf
// (-f, so nothing under /etc is written and the package's own system
// directory is never used), an mdb database loaded with slapadd before the
// start, a fresh test CA and server certificate, and slapd listening on
// 127.0.0.1 only, on two free ports: ldap:// (StartTLS offered) and
// ldaps://.
//
// The directory holds a service account (read access to every entry, no
// password hashes) and a few people (inetOrgPerson with uid, mail, cn,
// displayName), one of them with filter metacharacters in its uid, so
// that the LDAP login can prove its filter escaping against a real server.
// slapadd gives every entry an entryUUID, as a production OpenLDAP has.
//
// slapd runs in the foreground (-d 0) so that the PID held is slapd's, and
// Stop ends it by that PID. Start fails with the package to install when
// slapd or slapadd is missing.
package slapd
