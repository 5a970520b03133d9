package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

const root = "../.."

// pages are the project's documents: the README and every page of docs/.
func pages(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	return append([]string{filepath.Join(root, "README.md")}, docs...)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	link    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile("(?m)^#{1,6} (.+)$")
	fence   = regexp.MustCompile("(?ms)^```.*?^```")
)

// anchors are the fragment names a Markdown renderer gives a page's headings:
// lower case, punctuation dropped, spaces as hyphens, repeats numbered.
func anchors(page string) map[string]bool {
	page = fence.ReplaceAllString(page, "")
	seen := map[string]int{}
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(page, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// TestLinksResolve: every relative link of the README and docs/ names a file of the
// repository, and every fragment a heading of its page.
func TestLinksResolve(t *testing.T) {
	for _, page := range pages(t) {
		text := read(t, page)
		for _, m := range link.FindAllStringSubmatch(fence.ReplaceAllString(text, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			dest, destText := page, text
			if file != "" {
				dest = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s links to %s: no such file", rel(page), target)
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					continue
				}
				destText = read(t, dest)
			}
			if frag != "" && !anchors(destText)[frag] {
				t.Errorf("%s links to %s: %s has no heading #%s", rel(page), target, rel(dest), frag)
			}
		}
	}
}

// TestNothingOutsideTheRepository: the documents stand alone in a clone — no path
// outside it, no planning documents or issue numbers a reader cannot see.
func TestNothingOutsideTheRepository(t *testing.T) {
	outside := regexp.MustCompile(`\.\./shared|CONTRACT|DESIGN\.md|NOTES\.md|(?i:\bissue \d+)`)
	for _, page := range pages(t) {
		for i, line := range strings.Split(read(t, page), "\n") {
			if m := outside.FindString(line); m != "" {
				t.Errorf("%s:%d names %q, which a clone does not have", rel(page), i+1, m)
			}
		}
	}
}

// TestEveryVariableIsDocumented: each environment variable a binary reads is in
// docs/configuration.md, which the README links to, and nothing there is stale.
func TestEveryVariableIsDocumented(t *testing.T) {
	conf := read(t, filepath.Join(root, "docs", "configuration.md"))
	name := regexp.MustCompile(`^(BLASTLOG|CELERY)_[A-Z0-9_]+$`)
	var vars []string
	err := filepath.WalkDir(filepath.Join(root, "functions"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && name.MatchString(s) && !slices.Contains(vars, s) {
					vars = append(vars, s)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) < 30 {
		t.Fatalf("found only %d variables under functions/: the scan is broken", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(conf, "`"+v+"`") {
			t.Errorf("%s is read by a binary but not in docs/configuration.md", v)
		}
	}
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:BLASTLOG|CELERY)_[A-Z0-9_]+)`").FindAllStringSubmatch(conf, -1) {
		if !slices.Contains(vars, m[1]) {
			t.Errorf("docs/configuration.md documents %s, which no binary reads", m[1])
		}
	}
}

// TestTheReadmeIsAUsersPage: the README stays short enough to read; the reference
// lives in docs/.
func TestTheReadmeIsAUsersPage(t *testing.T) {
	if n := strings.Count(read(t, filepath.Join(root, "README.md")), "\n"); n > 450 {
		t.Errorf("the README has %d lines: at most 450 (move reference material to docs/)", n)
	}
}

func rel(path string) string {
	r, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return r
}

// TestTheTreeIsTheTree: every directory docs/architecture.md's tree names exists, at
// the place its indentation puts it, and every package of core/, ports/, adapters/ and
// functions/ is in it: an entry of its own, or named in an enclosing entry's text.
func TestTheTreeIsTheTree(t *testing.T) {
	doc := read(t, filepath.Join(root, "docs", "architecture.md"))
	_, tree, ok := strings.Cut(doc, "## The tree\n\n```\n")
	tree, _, ok2 := strings.Cut(tree, "```")
	if !ok || !ok2 {
		t.Fatal("docs/architecture.md has no tree")
	}
	entries := map[string]string{} // directory -> its entry's text
	var stack []string
	last := ""
	for _, line := range strings.Split(tree, "\n") {
		name := strings.Fields(line + " x")[0]
		if !strings.HasSuffix(name, "/") {
			entries[last] += " " + line // the entry's text goes on
			continue
		}
		level := (len(line) - len(strings.TrimLeft(line, " "))) / 2
		if level > len(stack) {
			t.Fatalf("%q is indented past its parent", line)
		}
		stack = append(stack[:level], strings.TrimSuffix(name, "/"))
		last = strings.Join(stack, "/")
		entries[last] = line
		if fi, err := os.Stat(filepath.Join(root, last)); err != nil || !fi.IsDir() {
			t.Errorf("the tree names %s/, which is not a directory", last)
		}
	}
	if len(entries) < 30 {
		t.Fatalf("only %d directories read from the tree", len(entries))
	}
	for _, top := range []string{"core", "ports", "adapters", "functions"} {
		filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || d.Name() == "testdata" {
				return err
			}
			if gos, _ := filepath.Glob(filepath.Join(path, "*.go")); len(gos) == 0 {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			if _, own := entries[rel]; own {
				return nil
			}
			for up := filepath.ToSlash(filepath.Dir(rel)); up != "."; up = filepath.ToSlash(filepath.Dir(up)) {
				if strings.Contains(entries[up], d.Name()) {
					return nil // named in an enclosing entry's text
				}
			}
			t.Errorf("%s is a package the tree does not name", rel)
			return nil
		})
	}
}
