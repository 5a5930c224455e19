package fsm

// Re-sealing of upstream provider secrets: filled in once the SSO
// provider store exists (fsm/handlers_sso.go).

func (a *applyCtx) resealSSO(it ResealItem) (bool, *ApplyError) { return false, nil }

func (f *FSM) sealedSSOValues() []SealedValue { return nil }
