package fsm

// Stubs: replaced by the owner of this file.

func applyKeyRemove(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}
