package main

// wireOAuth2 plugs the OAuth2/OIDC provider into the node (stub: replaced
// by the provider's owner).
func (n *node) wireOAuth2(w *wiring) error { return nil }
