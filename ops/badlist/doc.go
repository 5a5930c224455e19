// Package badlist ships the default password badlist: breached passwords
// that zxcvbn and the length rule would let through, which the cluster
// appends to its badlist at initialisation. The list is a gzipped text
// file embedded in the binary; SOURCES.md next to it names where it comes
// from and under which licence, and gen/ rebuilds it.
package badlist
