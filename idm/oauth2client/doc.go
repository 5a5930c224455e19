// Package oauth2client manages the OAuth2/OpenID Connect relying parties
// of the cluster (entries of class oauth2_client) and the signing keys
// their tokens use: create basic and public clients, change redirect URLs,
// scope maps, claim maps and flags, show and reset a basic client's
// secret, rotate keys and plan key retirement.
//
// Every change is an ordinary entry.create / entry.update / entry.delete
// proposed through idm.Service (its rights checks and compare-and-set
// retry loop); the provider (idm/oauth2, protocols/oauth2) reads the
// clients straight from the replicated entries. Client secrets are made
// here with crypto/rand and only their sealed form enters the log
// (PRODUCT.md rule 3); signing keys likewise.
//
// Rights: members of idm_admins or system_admins manage clients and rotate
// keys; any valid session may read clients (the API enforces that).
package oauth2client
