// Package mitkdc runs a real MIT Kerberos KDC (Debian's krb5-kdc and
// krb5-admin-server) for tests and the load generator: one realm per
// folder, with its own krb5.conf, kdc.conf, database, stash and ACL, and
// krb5kdc listening on 127.0.0.1 only. Nothing under /etc is read or
// written: every command it runs gets KRB5_CONFIG and KRB5_KDC_PROFILE
// pointing into the folder, and Env gives the same to other programs
// (curl --negotiate, gatehouse) so that they find this KDC.
//
// Pitfalls it already handles (see the field notes on real peers): no DNS
// canonicalisation or reverse lookups, TCP first (udp_preference_limit =
// 1), localhost mapped to the realm, keytabs exported without changing the
// keys (-norandkey) and written atomically so that a server watching the
// file never reads half of one.
package mitkdc
