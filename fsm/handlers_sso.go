package fsm

// Stubs: replaced by the owner of this file.

func applySSOProviderPut(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}

func applySSOProviderDelete(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}

func applySSOSettings(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}
