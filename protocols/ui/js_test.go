package ui

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestScriptsInNode runs the JavaScript unit tests under testdata
// (testdata/*.test.mjs, node:test) against the scripts the pages serve.
// Node is needed anyway by the browser test (integration/browser); a
// machine without it fails here rather than skipping the check.
func TestScriptsInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed for the scripts' unit tests (scripts/install-browser-deps.sh): %v", err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no JavaScript tests found under testdata: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, append([]string{"--test"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %v: %v\n%s", files, err, out)
	}
}
