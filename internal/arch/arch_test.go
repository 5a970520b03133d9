package arch

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/blastlog/blastlog/"

// allowed says which project packages a package may import. Standard library and
// third-party imports are checked separately: core may use only the standard library.
func allowed(pkg, imp string) bool {
	under := func(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	pure := under(imp, "core") && !under(imp, "core/app") // the rules, not the use cases
	switch {
	case under(pkg, "core/app"):
		// Use cases and their engines (fanout, history, archive) build on the rules,
		// the ports and each other (Go forbids cycles).
		return under(imp, "core") || imp == "ports"
	case under(pkg, "core"):
		// Pure rules may build on each other (merge uses sanitize and target), never
		// on the use cases or on a port.
		return pure
	case pkg == "ports":
		return pure // core types only
	case under(pkg, "ports"):
		return under(imp, "core") || under(imp, "ports")
	case under(pkg, "adapters"):
		// An adapter drives the use cases (core/app) and implements ports; the engines
		// inside core/app (fanout, history, archive, collect, notify, publish) are
		// not its business.
		own := strings.Join(strings.SplitN(pkg, "/", 3)[:2], "/")
		return pure || imp == "core/app" || under(imp, "ports") || under(imp, own)
	}
	return true // functions/ and internal/ meet everything
}

func TestImportDirection(t *testing.T) {
	root, _ := filepath.Abs("../..")
	fset := token.NewFileSet()
	checked := 0
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		checked++
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if p, ok := strings.CutPrefix(imp, module); ok {
				if !allowed(pkg, p) {
					t.Errorf("%s imports %s: against the import direction of docs/architecture.md", pkg, p)
				}
				continue
			}
			thirdParty := strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
			if thirdParty && strings.HasPrefix(pkg, "core") {
				t.Errorf("%s imports %s: core uses the standard library only", pkg, imp)
			}
		}
		return nil
	})
	if checked < 10 {
		t.Fatalf("only %d files checked: wrong root %s?", checked, root)
	}
}

func TestRulesBite(t *testing.T) {
	for _, c := range []struct {
		pkg, imp string
		ok       bool
	}{
		{"core/sanitize", "core/event", true},
		{"core/sanitize", "ports", false},
		{"core/merge", "core/target", true},
		{"core/merge", "core/app", false},
		{"core/event", "core/app", false},
		{"core/app", "ports", true},
		{"core/app/fanout", "core/app/history", true},
		{"core/app/archive", "ports", true},
		{"core/chunk", "core/app/history", false},
		{"core/app/history", "adapters/redisstore", false},
		{"ports", "core/app", false},
		{"ports", "core/target", true},
		{"adapters/redisstore", "adapters/kube", false},
		{"adapters/httpapi", "core/app", true},
		{"adapters/httpapi", "core/app/fanout", false},
		{"adapters/webhook", "core/app/notify", false},
		{"adapters/webhook", "core/diagnose", true},
		{"adapters/redisstore", "adapters/redisstore/redistest", true},
		{"adapters/redisstore", "functions/publish", false},
		{"functions/publish", "adapters/redisstore", true},
	} {
		if got := allowed(c.pkg, c.imp); got != c.ok {
			t.Errorf("allowed(%s, %s) = %v", c.pkg, c.imp, got)
		}
	}
}
