package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// A register: writes set a person's display name, reads return it.
type regInput struct {
	write bool
	value string
}

var registerModel = porcupine.Model{
	Init: func() any { return "v0" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.write {
			return "write " + in.value
		}
		return "read -> " + output.(string)
	},
}

func TestTheModelRejectsAStaleRead(t *testing.T) {
	// The checker must be able to fail: a read that starts after a write
	// finished yet returns the old value is not linearizable.
	history := []porcupine.Operation{
		{ClientId: 0, Input: regInput{write: true, value: "v1"}, Call: 0, Output: "", Return: 10},
		{ClientId: 1, Input: regInput{}, Call: 20, Output: "v0", Return: 30},
	}
	if porcupine.CheckOperations(registerModel, history) {
		t.Fatal("a stale read was judged linearizable")
	}
}

func TestLinearizableReadsAndWritesOnEveryNodeFormALinearizableHistory(t *testing.T) {
	c := NewCluster(t, 3)
	c.StartAll()
	c.WaitHealthy()
	ctx := context.Background()
	admin, _ := c.Admin(c.Nodes[0], "idm_admin")
	if _, err := admin.CreatePerson(ctx, "reg", "v0", nil); err != nil {
		t.Fatal(err)
	}
	// Every node must have the person before the clock starts.
	idx := admin.LastIndex()
	for _, nd := range c.Nodes {
		cl := c.Client(nd, admin.Token())
		cl.ObserveIndex(idx)
		cl.SetReadYourWrites(true)
		if _, err := cl.GetPerson(ctx, "reg"); err != nil {
			t.Fatal(err)
		}
	}

	hc := c.HTTP()
	token := admin.Token()
	start := time.Now()
	call := func(method, url, body string, consistent bool) (int, []byte, error) {
		req, _ := http.NewRequest(method, url, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if consistent {
			req.Header.Set("X-Gatehouse-Consistency", "linearizable")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes(), nil
	}

	var mu sync.Mutex
	var history []porcupine.Operation
	var failures []string
	deadline := start.Add(4 * time.Second)
	var wg sync.WaitGroup
	for i, nd := range c.Nodes {
		for role := 0; role < 2; role++ {
			client := i*2 + role
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; time.Now().Before(deadline); n++ {
					var op porcupine.Operation
					op.ClientId = client
					op.Call = time.Since(start).Nanoseconds()
					if role == 0 {
						v := fmt.Sprintf("v%d-%d", client, n)
						status, body, err := call("PATCH", nd.URL()+"/v1/person/reg", `{"displayname":"`+v+`"}`, false)
						op.Return = time.Since(start).Nanoseconds()
						if err != nil || (status != 200 && status != http.StatusConflict) {
							mu.Lock()
							failures = append(failures, fmt.Sprintf("write on %s: %d %v %s", nd.ID, status, err, body))
							mu.Unlock()
							return
						}
						if status == http.StatusConflict {
							continue // refused after bounded retries: it did not happen
						}
						op.Input, op.Output = regInput{write: true, value: v}, ""
					} else {
						status, body, err := call("GET", nd.URL()+"/v1/person/reg", "", true)
						op.Return = time.Since(start).Nanoseconds()
						var e struct {
							DisplayName string `json:"displayname"`
						}
						if err != nil || status != 200 || json.Unmarshal(body, &e) != nil {
							mu.Lock()
							failures = append(failures, fmt.Sprintf("read on %s: %d %v %s", nd.ID, status, err, body))
							mu.Unlock()
							return
						}
						op.Input, op.Output = regInput{}, e.DisplayName
					}
					mu.Lock()
					history = append(history, op)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("operations failed on a healthy cluster: %v", failures)
	}
	var reads, writes int
	for _, op := range history {
		if op.Input.(regInput).write {
			writes++
		} else {
			reads++
		}
	}
	if reads < 20 || writes < 20 {
		t.Fatalf("too little history to judge: %d reads, %d writes", reads, writes)
	}
	res := porcupine.CheckOperationsTimeout(registerModel, history, 60*time.Second)
	if res != porcupine.Ok {
		t.Fatalf("history of %d reads and %d writes is not linearizable (%s)", reads, writes, res)
	}
	t.Logf("linearizable: %d reads, %d writes over three nodes", reads, writes)
}
