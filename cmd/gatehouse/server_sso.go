package main

// wireSSO plugs upstream SSO logins into the node (stub: replaced by the
// SSO login's owner).
func (n *node) wireSSO(w *wiring) error { return nil }
