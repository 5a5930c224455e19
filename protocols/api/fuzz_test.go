package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-idm/gatehouse/idm/auth"
)

// fuzzRoutes are the request bodies the fuzzer writes. inAuth routes send
// the body as the next step of a login that has chosen password.
var fuzzRoutes = []struct {
	method, path string
	admin        bool
	inAuth       bool
}{
	{"POST", "/v1/person", true, false},
	{"PATCH", "/v1/person/alice", true, false},
	{"POST", "/v1/auth", false, false},
	{"POST", "/v1/auth", false, true},
	{"POST", "/v1/group/devs/members", true, false},
	{"DELETE", "/v1/system/denied_names", true, false},
}

// FuzzDecodeRequest feeds arbitrary bytes as request bodies into the real
// handler over a real FSM: whatever arrives, the answer is never a 5xx and
// the server never panics.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(uint8(0), []byte(`{"name":"bob","displayname":"Bob","mail":["bob@example.com"]}`))
	f.Add(uint8(1), []byte(`{"description":"x","mail":null}`))
	f.Add(uint8(2), []byte(`{"step":{"init":"alice"}}`))
	f.Add(uint8(3), []byte(`{"step":{"cred":{"password":"alice-long-password"}}}`))
	f.Add(uint8(4), []byte(`{"members":["alice","idm_admins"]}`))
	f.Add(uint8(5), []byte(`{"names":["root"]}`))
	a := newTestAPI(f)
	if w := a.do("POST", "/v1/person", a.idm, `{"name":"alice"}`, nil); w.Code != 201 {
		f.Fatalf("create alice: %d %s", w.Code, w.Body)
	}
	if w := a.do("POST", "/v1/person/alice/password", a.idm, `{"password":"alice-long-password"}`, nil); w.Code != 204 {
		f.Fatalf("alice's password: %d %s", w.Code, w.Body)
	}
	if w := a.do("POST", "/v1/group", a.idm, `{"name":"devs"}`, nil); w.Code != 201 {
		f.Fatalf("create devs: %d %s", w.Code, w.Body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		// A fresh engine each time: in-flight logins are bounded per node
		// (and answered 503 beyond that by design), which is not what
		// this target looks for.
		a.srv.Auth = &auth.Engine{State: a.srv.State, Hasher: a.srv.Auth.Hasher, Signer: a.srv.Signer, NodeID: "n1", Now: a.srv.Now}
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.RemoteAddr = "127.0.0.1:1"
		if rt.admin {
			req.Header.Set("Authorization", "Bearer "+a.admin)
		}
		if rt.inAuth {
			_, r := a.step(t, "", `{"step":{"init":"alice"}}`)
			if _, r2 := a.step(t, r.SessionID, `{"step":{"begin":"password"}}`); len(r2.State.Continue) == 0 {
				t.Fatalf("begin: %+v", r2)
			}
			req.Header.Set(HeaderAuthSession, r.SessionID)
		}
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			if _, ok := decodeErrBody(w.Body.Bytes()); !ok {
				t.Fatalf("%s %s with %q: %d without the error shape: %s", rt.method, rt.path, body, w.Code, w.Body)
			}
		}
	})
}

func decodeErrBody(b []byte) (errorBody, bool) {
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		return e, false
	}
	return e, e.Error != "" && e.Code != ""
}
