package auth

import (
	"strings"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/entry"
)

// With local authentication off for an account, its password login is
// refused with that reason, but only once the password was proven: a
// wrong password still gets the generic denial, as for any account.
func TestLocalAuthenticationOffIsRefusedAfterTheCredentials(t *testing.T) {
	w := newWorld(t)
	w.account(entry.Person, "dora", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	w.account(entry.Person, "eve", func(a *entry.Entry, c *entry.Credentials) { c.PasswordHash = w.phc })
	w.e.LocalAllowed = func(a *entry.Entry) bool { return a.Name != "dora" }
	login := func(name, pw string) State {
		id := w.step(w.e, "", initReq(name)).SessionID
		w.step(w.e, id, begin(entry.MechPassword))
		return w.step(w.e, id, cred(Cred{Password: str(pw)})).State
	}
	if st := login("dora", "not-her-password"); st.Denied == nil || *st.Denied != DeniedCredentials {
		t.Fatalf("wrong password, local auth off: %+v", st)
	}
	st := login("dora", goodPW)
	if st.Denied == nil || *st.Denied != DeniedLocalOff || !strings.HasPrefix(DeniedLocalOff, "local authentication is disabled for this account") {
		t.Fatalf("right password, local auth off: %+v", st)
	}
	if st := login("eve", goodPW); st.Success == nil {
		t.Fatalf("local auth on for eve: %+v", st)
	}
}
