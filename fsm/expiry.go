package fsm

// Expiry kinds beyond those of handlers_auth.go. Each owner prunes its own
// records when the expiry index reaches them.
const (
	kindOAuth2Refresh = 'f' // refresh family id
	kindOAuth2Device  = 'd' // device code hash
)

// pruneOther removes an expired record of a kind that handlers_auth.go
// does not know itself.
func (a *applyCtx) pruneOther(kind byte, id string) *ApplyError {
	switch kind {
	case kindOAuth2Refresh, kindOAuth2Device:
		return a.pruneOAuth2(kind, id)
	}
	return nil
}
