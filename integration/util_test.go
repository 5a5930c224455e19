package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// clusterID reads cluster_id from `cluster status --json` output.
func clusterID(t testing.TB, statusJSON string) string {
	var st struct {
		ClusterID string `json:"cluster_id"`
	}
	if err := json.Unmarshal([]byte(statusJSON), &st); err != nil {
		t.Fatalf("cluster status output is not JSON: %v\n%s", err, statusJSON)
	}
	return st.ClusterID
}
