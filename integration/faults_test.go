package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-idm/gatehouse/protocols/apiclient"
)

// writeAck is one acknowledged create: either a 201 (uuid and commit index
// known) or a 409 on a retry, which means an earlier attempt whose answer
// was lost did commit.
type writeAck struct {
	Name     string
	UUID     string
	Index    uint64
	At       time.Time
	Conflict bool
}

// personWriters creates persons from many goroutines, round-robin over nodes,
// retrying each name on any failure until it is acknowledged.
type personWriters struct {
	t       *testing.T
	clients []*apiclient.Client
	stop    atomic.Bool
	wg      sync.WaitGroup

	mu       sync.Mutex
	acks     map[string]writeAck
	outcomes map[string]int // failed attempts by status ("503", "transport", ...)
	pending  []string       // names still unacknowledged when a writer gave up
	bad      []string       // anomalies that fail the test
}

// startWriters runs n goroutines; writer w creates prefix-wWW-NNNN.
func startWriters(t *testing.T, clients []*apiclient.Client, n int, prefix string) *personWriters {
	ws := &personWriters{t: t, clients: clients, acks: map[string]writeAck{}, outcomes: map[string]int{}}
	for w := range n {
		ws.wg.Add(1)
		go ws.run(w, prefix)
	}
	return ws
}

func (ws *personWriters) run(w int, prefix string) {
	defer ws.wg.Done()
	for i := 0; !ws.stop.Load(); i++ {
		ws.createOne(fmt.Sprintf("%s-w%02d-%04d", prefix, w, i), w+i)
	}
}

// createOne insists on one name. After stop it keeps trying for a while so
// that an in-doubt write is resolved rather than dropped.
func (ws *personWriters) createOne(name string, start int) {
	var giveUp time.Time
	for attempt := 0; ; attempt++ {
		if ws.stop.Load() && giveUp.IsZero() {
			giveUp = time.Now().Add(30 * time.Second)
		}
		if !giveUp.IsZero() && time.Now().After(giveUp) {
			ws.mu.Lock()
			ws.pending = append(ws.pending, name)
			ws.mu.Unlock()
			return
		}
		cl := ws.clients[(start+attempt)%len(ws.clients)]
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var e apiclient.Entry
		resp, err := cl.Do(ctx, http.MethodPost, "/v1/person", map[string]any{"name": name, "displayname": "Writer " + name}, &e)
		cancel()
		switch {
		case err == nil:
			idx, _ := strconv.ParseUint(resp.Header.Get(apiclient.HeaderIndex), 10, 64)
			ws.record(writeAck{Name: name, UUID: e.UUID, Index: idx, At: time.Now()})
			if idx == 0 || e.UUID == "" {
				ws.anomaly(fmt.Sprintf("create %s answered 201 without index or uuid (index %d, uuid %q)", name, idx, e.UUID))
			}
			return
		case apiclient.IsStatus(err, http.StatusConflict):
			if attempt == 0 {
				ws.anomaly(fmt.Sprintf("first attempt to create %s got 409: %v", name, err))
			}
			ws.record(writeAck{Name: name, At: time.Now(), Conflict: true})
			return
		}
		key := "transport"
		var ae *apiclient.Error
		if errors.As(err, &ae) {
			key = strconv.Itoa(ae.Status)
			if ae.Status != http.StatusServiceUnavailable {
				// Keep one example of each unexpected status for the report.
				key += ": " + ae.Message
			}
		}
		ws.mu.Lock()
		ws.outcomes[key]++
		ws.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
}

func (ws *personWriters) record(a writeAck) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if _, dup := ws.acks[a.Name]; dup {
		ws.bad = append(ws.bad, "acknowledged twice: "+a.Name)
	}
	ws.acks[a.Name] = a
}

func (ws *personWriters) anomaly(s string) {
	ws.mu.Lock()
	ws.bad = append(ws.bad, s)
	ws.mu.Unlock()
}

// Stop ends the writers, waits for them and fails on anomalies.
func (ws *personWriters) Stop() map[string]writeAck {
	ws.stop.Store(true)
	ws.wg.Wait()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.t.Logf("writers: %d acknowledged, failed attempts by status: %v, unresolved: %v", len(ws.acks), ws.outcomes, ws.pending)
	if len(ws.bad) > 0 {
		ws.t.Fatalf("writer anomalies:\n%s", strings.Join(ws.bad, "\n"))
	}
	return ws.acks
}

// count returns how many acks satisfy f.
func (ws *personWriters) count(f func(writeAck) bool) int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	n := 0
	for _, a := range ws.acks {
		if f(a) {
			n++
		}
	}
	return n
}

// personsAt lists the persons of nd once it has applied index minIdx,
// retrying on 503 (the node may still be catching up) until timeout.
func personsAt(t *testing.T, c *Cluster, nd *Node, token string, minIdx uint64, timeout time.Duration) []apiclient.Entry {
	t.Helper()
	cl := c.Client(nd, token)
	cl.ObserveIndex(minIdx)
	cl.SetReadYourWrites(true)
	var list []apiclient.Entry
	var err error
	Eventually(t, timeout, fmt.Sprintf("%s lists persons at index %d", nd.ID, minIdx), func() bool {
		list, err = cl.ListPersons(context.Background())
		if err != nil && !apiclient.IsStatus(err, http.StatusServiceUnavailable) && !strings.Contains(err.Error(), "connect") {
			t.Fatalf("list persons on %s: %v", nd.ID, err)
		}
		return err == nil
	})
	return list
}

// checkAllPresent fails unless every ack is in list exactly once, with the
// acknowledged uuid, and no name appears twice in list.
func checkAllPresent(t *testing.T, who string, list []apiclient.Entry, acks map[string]writeAck) {
	t.Helper()
	seen := map[string]string{}
	for _, e := range list {
		if _, dup := seen[e.Name]; dup {
			t.Errorf("%s: name %s appears twice", who, e.Name)
		}
		seen[e.Name] = e.UUID
	}
	var missing []string
	for name, a := range acks {
		uuid, ok := seen[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case !a.Conflict && uuid != a.UUID:
			t.Errorf("%s: %s has uuid %s, the create acknowledged %s", who, name, uuid, a.UUID)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("%s lacks %d acknowledged creates, e.g. %v", who, len(missing), missing[:min(10, len(missing))])
	}
}

func maxIndex(acks map[string]writeAck, clients ...*apiclient.Client) uint64 {
	var m uint64
	for _, a := range acks {
		m = max(m, a.Index)
	}
	for _, cl := range clients {
		m = max(m, cl.LastIndex())
	}
	return m
}

func TestAcknowledgedWritesSurviveKillingTheLeaderAndTheKilledNodeCatchesUp(t *testing.T) {
	c := NewCluster(t, 3)
	startAll(t, c)
	leader := c.WaitHealthy()
	var follower *Node
	for _, nd := range c.Nodes {
		if nd != leader {
			follower = nd
		}
	}
	admin, _ := c.Admin(follower, "idm_admin")
	tok := admin.Token()
	var clients []*apiclient.Client
	for _, nd := range c.Nodes {
		clients = append(clients, c.Client(nd, tok))
	}

	ws := startWriters(t, clients, 16, "kill")
	time.Sleep(2 * time.Second)
	before := ws.count(func(writeAck) bool { return true })
	if before == 0 {
		ws.Stop()
		t.Fatal("no write was acknowledged in the first two seconds")
	}
	leader.Kill()
	killedAt := time.Now()
	var survivors []*Node
	for _, nd := range c.Nodes {
		if nd != leader {
			survivors = append(survivors, nd)
		}
	}
	newLeader := waitNewLeader(t, c, leader, survivors)
	electedAt := time.Now()
	t.Logf("killed leader %s after %d acks; %s leads after %s", leader.ID, before, newLeader.ID, electedAt.Sub(killedAt).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	acks := ws.Stop()
	resumed := ws.count(func(a writeAck) bool { return !a.Conflict && a.At.After(electedAt) })
	if resumed == 0 {
		t.Fatalf("no write was acknowledged after %s was elected", newLeader.ID)
	}
	t.Logf("%d acks in total, %d after the new election, %d resolved by 409 on retry", len(acks), resumed, ws.count(func(a writeAck) bool { return a.Conflict }))

	top := maxIndex(acks, clients...)
	for _, nd := range survivors {
		checkAllPresent(t, nd.ID, personsAt(t, c, nd, tok, top, 15*time.Second), acks)
	}

	// The killed node restarts with its data and catches up from the leader.
	leader.Start()
	c.WaitHealthy()
	final := personsAt(t, c, leader, tok, top, 30*time.Second)
	checkAllPresent(t, leader.ID+" (restarted)", final, acks)

	// Writers are stopped, so all three must now hold the same entries.
	want := entryKeys(final)
	for _, nd := range survivors {
		if got := entryKeys(personsAt(t, c, nd, tok, top, 15*time.Second)); got != want {
			t.Fatalf("%s and %s disagree on the persons after catch-up", nd.ID, leader.ID)
		}
	}
}

// waitNewLeader waits until every survivor names the same leader, other
// than old (right after a kill they may still name the dead node).
func waitNewLeader(t *testing.T, c *Cluster, old *Node, survivors []*Node) *Node {
	t.Helper()
	var leader *Node
	Eventually(t, 30*time.Second, "the survivors elect a new leader", func() bool {
		lid := ""
		for _, nd := range survivors {
			st, ok := nd.Status()
			if !ok || st.Leader == "" || st.Leader == old.ID || (lid != "" && st.Leader != lid) {
				return false
			}
			lid = st.Leader
		}
		for _, nd := range survivors {
			if nd.ID == lid {
				leader = nd
			}
		}
		return leader != nil
	})
	return leader
}

// entryKeys renders name/uuid pairs in a canonical order for comparison.
func entryKeys(list []apiclient.Entry) string {
	keys := make([]string, 0, len(list))
	for _, e := range list {
		keys = append(keys, e.Name+"="+e.UUID)
	}
	sort.Strings(keys)
	return strings.Join(keys, "\n")
}

func TestWithTwoOfThreeNodesStoppedTheSurvivorServesLoginsButRefusesWrites(t *testing.T) {
	c := NewCluster(t, 3)
	startAll(t, c)
	leader := c.WaitHealthy()
	var survivor *Node
	for _, nd := range c.Nodes {
		if nd != leader {
			survivor = nd
		}
	}
	ctx := context.Background()
	admin, _ := c.Admin(survivor, "idm_admin")
	if _, err := admin.CreatePerson(ctx, "carol", "Carol", nil); err != nil {
		t.Fatal(err)
	}
	const pw = "tidal-Quartz-lantern-93"
	if err := admin.SetPassword(ctx, "carol", pw); err != nil {
		t.Fatal(err)
	}
	// The survivor must hold carol's password before it is left alone.
	personsAt(t, c, survivor, admin.Token(), admin.LastIndex(), 10*time.Second)

	for _, nd := range c.Nodes {
		if nd != survivor {
			nd.Stop()
		}
	}
	Eventually(t, 20*time.Second, survivor.ID+" notices it has no leader", func() bool {
		st, _ := survivor.Status()
		return st.Node == survivor.ID && st.Leader == ""
	})

	// Logins and token checks are local (rule 4).
	carol := c.Login(survivor, "carol", pw)
	self, err := carol.Self(ctx)
	if err != nil || self.Name != "carol" {
		t.Fatalf("GET /v1/self with carol's fresh token on %s: %v %+v", survivor.ID, err, self)
	}
	if self, err := c.Client(survivor, admin.Token()).Self(ctx); err != nil || self.Name != "idm_admin" {
		t.Fatalf("GET /v1/self with a token issued before the outage: %v %+v", err, self)
	}
	bad := c.Client(survivor, "")
	if _, err := bad.LoginPassword(ctx, "carol", "not-her-password-at-all"); err == nil {
		t.Fatal("a wrong password logged in while the cluster had no leader")
	}

	// A write waits for a leader, then fails with 503 and says why.
	start := time.Now()
	_, err = admin.CreatePerson(ctx, "dave", "Dave", nil)
	took := time.Since(start)
	var ae *apiclient.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("write without quorum: want 503, got %v", err)
	}
	if !strings.Contains(strings.ToLower(ae.Message), "leader") {
		t.Fatalf("the 503 does not say that there is no leader: %q", ae.Message)
	}
	if took > 15*time.Second {
		t.Fatalf("the refused write took %s", took)
	}
	if _, err := admin.GetPerson(ctx, "dave"); !apiclient.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("the refused write left something behind: %v", err)
	}
	t.Logf("write refused after %s: %s", took.Round(time.Millisecond), ae.Message)
}
