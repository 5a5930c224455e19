package fsm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// The handlers and the caches they update must not reach a clock, a random
// source, the environment, the file system or the network (rule 2). This
// reads their source, so a violation fails the build's tests.
func TestHandlersStayDeterministic(t *testing.T) {
	files, err := filepath.Glob("handlers*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "cache.go", "state.go", "command.go")
	forbiddenImports := map[string]bool{"time": true, "math/rand": true, "math/rand/v2": true, "crypto/rand": true,
		"os": true, "os/exec": true, "net": true, "net/http": true, "io/ioutil": true, "syscall": true, "runtime": true}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if filepath.Ext(name) != ".go" || len(name) > 8 && name[len(name)-8:] == "_test.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbiddenImports[path] {
				t.Errorf("%s imports %s: handlers must be deterministic", name, path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && sel.Sel.Name == "Now" {
					t.Errorf("%s: time.Now in a handler", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	if checked < 5 {
		t.Fatalf("checked only %d files; the file list is wrong", checked)
	}
}
