package integration

import (
	"context"
	"net/http"
	"testing"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// Rule 5: a login begun on one node continues on any other, as behind a
// load balancer without sticky sessions.
func TestALoginMayTakeEachStepOnADifferentNode(t *testing.T) {
	c := NewCluster(t, 3)
	c.StartAll()
	c.WaitHealthy()
	ctx := context.Background()
	_, pw := c.Admin(c.Nodes[0], "idm_admin")
	n1, n2, n3 := c.Client(c.Nodes[0], ""), c.Client(c.Nodes[1], ""), c.Client(c.Nodes[2], "")

	login := func(password string) *apiclient.AuthResponse {
		t.Helper()
		r, err := n1.Auth(ctx, "", apiclient.InitStep("idm_admin"))
		if err != nil {
			t.Fatal(err)
		}
		r, err = n2.Auth(ctx, r.SessionID, apiclient.AuthStep{Begin: "password"})
		if err != nil {
			t.Fatalf("begin on another node: %v", err)
		}
		if len(r.State.Continue) != 1 {
			t.Fatalf("begin on another node answered %+v", r.State)
		}
		r, err = n3.Auth(ctx, r.SessionID, apiclient.AuthStep{Cred: &apiclient.AuthCred{Password: password}})
		if err != nil {
			t.Fatalf("cred on a third node: %v", err)
		}
		return r
	}
	ok := login(pw)
	if ok.State.Success == nil {
		t.Fatalf("login across three nodes: %+v", ok.State)
	}
	self := c.Client(c.Nodes[1], *ok.State.Success)
	if e, err := self.Self(ctx); err != nil || e.Name != "idm_admin" {
		t.Fatalf("token from the cross-node login: %v %+v", err, e)
	}
	if bad := login("not the password"); bad.State.Denied == nil {
		t.Fatalf("a wrong password across nodes: %+v", bad.State)
	}

	// The owner stops: its in-flight logins are gone, and another node says
	// so as an invalid state, not an error of its own.
	r, err := n1.Auth(ctx, "", apiclient.InitStep("idm_admin"))
	if err != nil {
		t.Fatal(err)
	}
	c.Nodes[0].Stop()
	_, err = n2.Auth(ctx, r.SessionID, apiclient.AuthStep{Begin: "password"})
	if !apiclient.IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("a step for a login held by a stopped node: want 401, got %v", err)
	}
}
