package ssehub

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// processGlobals are calls and values that change state shared by every
// module in the Caddy binary. The module must never touch them: another
// plugin would find go-redis silenced, or its HTTP client altered.
var processGlobals = map[string]string{
	"redis.SetLogger":              "go-redis's logger is shared by every plugin",
	"http.DefaultClient":           "shared by every plugin; use a client of your own",
	"http.DefaultTransport":        "shared by every plugin; use a transport of your own",
	"http.DefaultServeMux":         "shared by every plugin",
	"http.Handle":                  "registers on http.DefaultServeMux",
	"http.HandleFunc":              "registers on http.DefaultServeMux",
	"prometheus.MustRegister":      "registers in the default registry; use Caddy's (ctx.GetMetricsRegistry)",
	"prometheus.Register":          "registers in the default registry; use Caddy's (ctx.GetMetricsRegistry)",
	"prometheus.DefaultRegisterer": "the default registry; use Caddy's (ctx.GetMetricsRegistry)",
	"zap.ReplaceGlobals":           "replaces the process's zap logger",
	"otel.SetTracerProvider":       "replaces the process's tracer",
	"debug.SetGCPercent":           "changes the whole process's GC",
	"debug.SetMemoryLimit":         "changes the whole process's GC",
	"signal.Notify":                "Caddy handles signals",
}

// TestNoProcessGlobalState reads every non-test source of the module's
// packages and fails on a use of one of processGlobals.
func TestNoProcessGlobalState(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "integration") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			if why, bad := processGlobals[pkg.Name+"."+sel.Sel.Name]; bad {
				t.Errorf("%s: %s.%s changes process-wide state: %s", fset.Position(sel.Pos()), pkg.Name, sel.Sel.Name, why)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d source files checked; is the walk rooted in ssehub/?", checked)
	}
}
