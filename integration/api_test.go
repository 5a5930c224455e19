package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// rawResp is one HTTP answer as the API test sees it.
type rawResp struct {
	Status int
	Header http.Header
	Body   []byte
}

// apiErr decodes the documented error body; ok is false when the body is
// not that shape.
func (r rawResp) apiErr() (msg, code string, ok bool) {
	var b struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return "", "", false
	}
	return b.Error, b.Code, b.Error != "" && b.Code != ""
}

// apiCaller sends raw requests and remembers every status so a test can
// assert that nothing answered 500.
type apiCaller struct {
	t    *testing.T
	hc   *http.Client
	seen []string
}

func (a *apiCaller) do(method, url, token string, body io.Reader, hdr map[string]string) rawResp {
	a.t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a.seen = append(a.seen, fmt.Sprintf("%d %s %s", resp.StatusCode, method, url))
	if resp.StatusCode >= 500 {
		a.t.Errorf("%s %s answered %d: %s", method, url, resp.StatusCode, b)
	}
	return rawResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (a *apiCaller) json(method, url, token, body string) rawResp {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	return a.do(method, url, token, r, nil)
}

// wantErr asserts the documented status, code and a non-empty reason.
func wantErr(t *testing.T, what string, r rawResp, status int, code string) {
	t.Helper()
	msg, gotCode, ok := r.apiErr()
	if r.Status != status || !ok || gotCode != code {
		t.Errorf("%s: want %d %q with a reason, got %d %s", what, status, code, r.Status, r.Body)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: error Content-Type %q, want JSON", what, ct)
	}
	t.Logf("%s → %d %s: %s", what, status, code, msg)
}

// personNames lists the person names a node holds.
func personNames(t *testing.T, a *apiCaller, base, token string) []string {
	t.Helper()
	r := a.json("GET", base+"/v1/person", token, "")
	if r.Status != 200 {
		t.Fatalf("list persons: %d %s", r.Status, r.Body)
	}
	var l struct {
		Entries []struct {
			Name string `json:"name"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Entries {
		out = append(out, e.Name)
	}
	return out
}

// forgeToken keeps a real token's header and claims but signs them with a
// key of our own: the right shape and key id, the wrong signature.
func forgeToken(t *testing.T, real string) string {
	t.Helper()
	parts := strings.Split(real, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", real)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jose.ParseSigned(real, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	payload := tok.UnsafePayloadWithoutVerification()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", tok.Signatures[0].Header.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	if forged == real || strings.Split(forged, ".")[1] != parts[1] {
		t.Fatal("forged token does not carry the real claims")
	}
	return forged
}

func TestBadInputIsRefusedWithAReasonAndChangesNothing(t *testing.T) {
	c := NewCluster(t, 3)
	c.StartAll()
	other := NewCluster(t, 1) // a foreign cluster, for its tokens
	other.StartAll()
	leader := c.WaitHealthy()
	var follower *Node
	for _, nd := range c.Nodes {
		if nd != leader {
			follower = nd
		}
	}
	ctx := context.Background()
	idm, _ := c.Admin(follower, "idm_admin")
	tok := idm.Token()
	base := follower.URL()
	a := &apiCaller{t: t, hc: c.HTTP()}

	if _, err := idm.CreatePerson(ctx, "alice", "Alice", nil); err != nil {
		t.Fatal(err)
	}
	idm.SetReadYourWrites(true)
	before := personNames(t, a, base, tok)

	bad := []struct {
		what, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/v1/person", `{"name":"bob",`, 400, "invalid"},
		{"not JSON at all", "POST", "/v1/person", `name=bob`, 400, "invalid"},
		{"two JSON values", "POST", "/v1/person", `{"name":"bob"}{"name":"bob2"}`, 400, "invalid"},
		{"unknown field", "POST", "/v1/person", `{"name":"bob","shoe_size":44}`, 400, "invalid"},
		{"empty body", "POST", "/v1/person", ``, 400, "invalid"},
		{"no name", "POST", "/v1/person", `{"displayname":"Bob"}`, 400, "invalid"},
		{"wrong type", "POST", "/v1/person", `{"name":42}`, 400, "invalid"},
		{"upper-case name", "POST", "/v1/person", `{"name":"Bob"}`, 400, "invalid"},
		{"name starting with a digit", "POST", "/v1/person", `{"name":"1bob"}`, 400, "invalid"},
		{"name with @", "POST", "/v1/person", `{"name":"bob@example.com"}`, 400, "invalid"},
		{"name too long", "POST", "/v1/person", `{"name":"b` + strings.Repeat("o", 64) + `"}`, 400, "invalid"},
		{"uuid-shaped name", "POST", "/v1/person", `{"name":"a0000000-0000-4000-8000-000000000abc"}`, 400, "invalid"},
		{"denied name", "POST", "/v1/person", `{"name":"root"}`, 400, "invalid"},
		{"duplicate name", "POST", "/v1/person", `{"name":"alice"}`, 409, "conflict"},
		{"duplicate of a built-in name", "POST", "/v1/person", `{"name":"idm_admins"}`, 409, "conflict"},
		{"rename to a taken name", "PATCH", "/v1/person/alice", `{"name":"idm_admin"}`, 409, "conflict"},
		{"rename to an invalid name", "PATCH", "/v1/person/alice", `{"name":"Alice"}`, 400, "invalid"},
		{"members on a person", "POST", "/v1/person", `{"name":"bob","members":["alice"]}`, 400, "invalid"},
		{"bad mail", "POST", "/v1/person", `{"name":"bob","mail":["not an address"]}`, 400, "invalid"},
		{"short password", "POST", "/v1/person/alice/password", `{"password":"short"}`, 400, "invalid"},
		{"group with an unknown member", "POST", "/v1/group", `{"name":"devs","members":["nobody_here"]}`, 404, "not_found"},
		{"no members given", "POST", "/v1/group/idm_all_persons/members", `{"members":[]}`, 400, "invalid"},
		{"patch of a missing person", "PATCH", "/v1/person/nobody_here", `{"displayname":"X"}`, 404, "not_found"},
		{"a group read as a person", "GET", "/v1/person/idm_admins", ``, 404, "not_found"},
	}
	for _, b := range bad {
		r := a.json(b.method, base+b.path, tok, b.body)
		wantErr(t, b.what, r, b.status, b.code)
	}

	// Over 1 MiB: 413, whatever the body holds.
	big := `{"name":"bob","description":"` + strings.Repeat("x", 1<<20+10) + `"}`
	wantErr(t, "oversized body", a.json("POST", base+"/v1/person", tok, big), 413, "too_large")

	// Tokens: none, forged, from another cluster.
	wantErr(t, "no token", a.json("POST", base+"/v1/person", "", `{"name":"bob"}`), 401, "unauthorized")
	wantErr(t, "no token on a read", a.json("GET", base+"/v1/person", "", ""), 401, "unauthorized")
	wantErr(t, "not a bearer token", a.do("GET", base+"/v1/person", "", nil, map[string]string{"Authorization": "Basic YWxpY2U6eA=="}), 401, "unauthorized")
	wantErr(t, "garbage token", a.json("POST", base+"/v1/person", "abc.def.ghi", `{"name":"bob"}`), 401, "unauthorized")
	wantErr(t, "forged token", a.json("POST", base+"/v1/person", forgeToken(t, tok), `{"name":"bob"}`), 401, "unauthorized")
	other.WaitHealthy()
	foreign, _ := other.Admin(other.Nodes[0], "idm_admin")
	if _, err := foreign.Self(ctx); err != nil {
		t.Fatalf("the foreign token does not work where it was issued: %v", err)
	}
	wantErr(t, "token of another cluster", a.json("POST", base+"/v1/person", foreign.Token(), `{"name":"bob"}`), 401, "unauthorized")

	// Read-your-writes header that is not an index.
	for _, v := range []string{"abc", "-1", "1.5", "99999999999999999999999"} {
		r := a.do("GET", base+"/v1/person/alice", tok, nil, map[string]string{"X-Gatehouse-Min-Index": v})
		wantErr(t, "X-Gatehouse-Min-Index "+v, r, 400, "invalid")
	}

	// Unknown paths and methods: 404 JSON.
	for _, p := range []string{"/v1/nothing", "/v2/person", "/v1/person/alice/shoes", "/favicon.ico"} {
		wantErr(t, "unknown path "+p, a.json("GET", base+p, tok, ""), 404, "not_found")
	}
	wantErr(t, "unknown method", a.json("PUT", base+"/v1/person/alice", tok, `{"name":"alice"}`), 404, "not_found")

	after := personNames(t, a, base, tok)
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Errorf("bad input changed the persons: before %v, after %v", before, after)
	}
	for _, n := range []string{"bob", "root", "1bob", "bob2"} {
		wantErr(t, "GET "+n+" after refused creates", a.json("GET", base+"/v1/person/"+n, tok, ""), 404, "not_found")
	}
	wantErr(t, "GET refused group", a.json("GET", base+"/v1/group/devs", tok, ""), 404, "not_found")
	var al struct {
		Name        string `json:"name"`
		HasPassword bool   `json:"has_password"`
	}
	r := a.json("GET", base+"/v1/person/alice", tok, "")
	if err := json.Unmarshal(r.Body, &al); err != nil || al.Name != "alice" || al.HasPassword {
		t.Errorf("alice after refused patches and password: %d %s", r.Status, r.Body)
	}

	t.Run("AccessControl", func(t *testing.T) {
		testAccessControl(t, c, a, follower, leader)
	})
	for _, s := range a.seen {
		if strings.HasPrefix(s, "5") {
			t.Errorf("a request answered 5xx: %s", s)
		}
	}
}

func testAccessControl(t *testing.T, c *Cluster, a *apiCaller, nd, other *Node) {
	ctx := context.Background()
	idm, _ := c.Admin(nd, "idm_admin")
	admin, _ := c.Admin(nd, "admin")
	base := nd.URL()

	// A person without rights may read but not create.
	if _, err := idm.CreatePerson(ctx, "carol", "Carol", nil); err != nil {
		t.Fatal(err)
	}
	const pw = "carol-has-a-long-passphrase-7"
	if err := idm.SetPassword(ctx, "carol", pw); err != nil {
		t.Fatal(err)
	}
	carol := c.Login(other, "carol", pw)
	wantErr(t, "carol creates a person", a.json("POST", base+"/v1/person", carol.Token(), `{"name":"dave"}`), 403, "forbidden")
	wantErr(t, "carol creates a group", a.json("POST", base+"/v1/group", carol.Token(), `{"name":"carols"}`), 403, "forbidden")
	wantErr(t, "carol renames herself", a.json("PATCH", base+"/v1/person/carol", carol.Token(), `{"displayname":"Queen"}`), 403, "forbidden")
	wantErr(t, "carol sets idm_admin's password", a.json("POST", base+"/v1/service_account/idm_admin/password", carol.Token(), `{"password":"0123456789abcdef"}`), 403, "forbidden")
	if r := a.json("GET", base+"/v1/person/carol", carol.Token(), ""); r.Status != 200 {
		t.Errorf("carol cannot read herself: %d %s", r.Status, r.Body)
	}

	// idm_admin: no denied names, no built-ins.
	wantErr(t, "idm_admin appends a denied name", a.json("POST", base+"/v1/system/denied_names", idm.Token(), `{"names":["blocked"]}`), 403, "forbidden")
	wantErr(t, "idm_admin removes a denied name", a.json("DELETE", base+"/v1/system/denied_names", idm.Token(), `{"names":["root"]}`), 403, "forbidden")
	wantErr(t, "idm_admin deletes a built-in group", a.json("DELETE", base+"/v1/group/idm_all_persons", idm.Token(), ""), 403, "forbidden")
	wantErr(t, "idm_admin deletes admin", a.json("DELETE", base+"/v1/service_account/admin", idm.Token(), ""), 403, "forbidden")
	wantErr(t, "idm_admin adds itself to system_admins", a.json("POST", base+"/v1/group/system_admins/members", idm.Token(), `{"members":["idm_admin"]}`), 403, "forbidden")
	wantErr(t, "idm_admin sets admin's password", a.json("POST", base+"/v1/service_account/admin/password", idm.Token(), `{"password":"0123456789abcdef"}`), 403, "forbidden")
	if g, err := idm.GetGroup(ctx, "system_admins"); err != nil || strings.Join(g.Members, ",") != "admin" {
		t.Errorf("system_admins after the refused add: %+v %v", g, err)
	}
	if _, err := idm.GetGroup(ctx, "idm_all_persons"); err != nil {
		t.Errorf("idm_all_persons after the refused delete: %v", err)
	}

	// admin appends a denied name; then nobody may take it.
	names, err := admin.AppendDeniedNames(ctx, "blocked")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(","+strings.Join(names, ",")+",", ",blocked,") {
		t.Fatalf("denied names after append: %v", names)
	}
	idm.ObserveIndex(admin.LastIndex())
	idm.SetReadYourWrites(true)
	wantErr(t, "idm_admin creates a denied name", a.do("POST", base+"/v1/person", idm.Token(), strings.NewReader(`{"name":"blocked"}`),
		map[string]string{"X-Gatehouse-Min-Index": fmt.Sprint(admin.LastIndex())}), 400, "invalid")
	wantErr(t, "admin creates a denied name", a.json("POST", base+"/v1/group", admin.Token(), `{"name":"blocked"}`), 400, "invalid")
	wantErr(t, "idm_admin renames to a denied name", a.json("PATCH", base+"/v1/person/carol", idm.Token(), `{"name":"blocked"}`), 400, "invalid")
	wantErr(t, "admin appends an invalid denied name", a.json("POST", base+"/v1/system/denied_names", admin.Token(), `{"names":["Not Valid"]}`), 400, "invalid")
	wantErr(t, "GET blocked", a.json("GET", base+"/v1/person/blocked", admin.Token(), ""), 404, "not_found")

	// admin may change built-ins that idm_admin may not.
	r := a.json("PATCH", base+"/v1/group/idm_all_persons", admin.Token(), `{"description":"all people"}`)
	if r.Status != 200 {
		t.Errorf("admin patches a built-in group: %d %s", r.Status, r.Body)
	}

	// An account that holds system_admins rights, directly or through a
	// group, is out of idm_admin's reach: otherwise idm_admin could set
	// its password, log in as it and be a system administrator.
	if _, err := admin.CreatePerson(ctx, "ops", "Operator", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateGroup(ctx, "opsteam", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddMembers(ctx, "system_admins", "ops", "opsteam"); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"X-Gatehouse-Min-Index": fmt.Sprint(admin.LastIndex())}
	wantErr(t, "idm_admin sets a system admin's password", a.do("POST", base+"/v1/person/ops/password", idm.Token(),
		strings.NewReader(`{"password":"idm-admin-takes-over-1"}`), hdr), 403, "forbidden")
	wantErr(t, "idm_admin adds carol to a group inside system_admins", a.do("POST", base+"/v1/group/opsteam/members", idm.Token(),
		strings.NewReader(`{"members":["carol"]}`), hdr), 403, "forbidden")
	wantErr(t, "idm_admin deletes a system admin", a.do("DELETE", base+"/v1/person/ops", idm.Token(), nil, hdr), 403, "forbidden")
	if r := a.json("POST", base+"/v1/person/ops/password", admin.Token(), `{"password":"admin-may-do-this-1"}`); r.Status != 204 {
		t.Errorf("admin sets a system admin's password: %d %s", r.Status, r.Body)
	}
}
