package api

// CredUpdateDeps are the collaborators of the credential-update routes
// (stub: the owner of this file fills it in).
type CredUpdateDeps struct{}

func (s *Server) routesCredUpdate(route routeFunc) {}
