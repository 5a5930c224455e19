// Package spnego accepts Kerberos logins carried by HTTP Negotiate
// (RFC 4559, SPNEGO RFC 4178 around a Kerberos AP-REQ, RFC 4121).
//
// Keytab holds the service keys and reloads them when the file changes or
// on Reload (SIGHUP), so a key rotation needs no restart. Acceptor checks
// one Authorization header and names the client principal, or answers a
// typed *Error whose Reason tells what was wrong (malformed token, not
// Kerberos, wrong realm, ticket for another service, clock skew, expired
// ticket, integrity failure, replay).
//
// The exchange is stateless on the server: a Kerberos AP-REQ is the whole
// proof. When a client's first mechanism is not Kerberos but it offers
// Kerberos too, the acceptor answers the SPNEGO "accept-incomplete,
// Kerberos" token and the client's next request carries the AP-REQ in a
// NegTokenResp, which any node accepts on its own: nothing is kept between
// the legs, so a new TCP connection or another node can continue them.
//
// Replays are refused cluster-wide through the Replay hook (the server
// wires it to authguard.ClaimOnce): gokrb5's own replay cache is per
// process, so the acceptor verifies the AP-REQ itself with gokrb5's
// message types and crypto, which also gives it an injectable clock and a
// precise reason for every failure. PACs are not decoded (MIT 1.20 puts a
// PAC without KerbValidationInfo in every ticket; service.DecodePAC(false)
// is the equivalent setting in gokrb5's own service path).
package spnego
