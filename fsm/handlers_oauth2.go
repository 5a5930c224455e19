package fsm

// Stubs: replaced by the owner of this file.

func applyOAuth2Consent(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}

func applyOAuth2Refresh(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}

func applyOAuth2DeviceCreate(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}

func applyOAuth2DeviceDecide(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}

func applyOAuth2DeviceConsume(a *applyCtx) (any, *ApplyError) {
	return nil, Errf(CodeInvalid, "%s is not implemented yet", a.cmd.Type)
}

func (a *applyCtx) pruneOAuth2(kind byte, id string) *ApplyError { return nil }
