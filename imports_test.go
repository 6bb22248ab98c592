package visitor

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules enforces DESIGN.md §2: what each top-level folder must
// not import. The rules bind each package's own code and its in-package
// tests; an external test package (package x_test) may stand up the other
// side of the system for an end-to-end test (the kiosk engine against a
// real cloud), since that never makes the package depend on it.
func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	const mod = "github.com/theonestack/visitor/"
	sql := []string{"database/sql", "modernc.org/sqlite", "github.com/jackc/pgx"}
	rules := map[string][]string{
		"syncproto": append([]string{mod + "edge", mod + "cloud", "fyne.io/", "github.com/labstack/echo"}, sql...),
		"pairing":   {mod + "edge", mod + "cloud", "fyne.io/", "github.com/labstack/echo"},
		"edge":      {"fyne.io/", "github.com/labstack/echo", mod + "cloud"},
		"kiosk-ui":  append([]string{mod + "cloud"}, sql...),
		"cloud":     {mod + "edge", "fyne.io/"},
	}
	var patterns []string
	for dir := range rules {
		patterns = append(patterns, "./"+dir+"/...")
	}
	out, err := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports,TestImports"}, patterns...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p struct {
			ImportPath           string
			Imports, TestImports []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		dir, _, _ := strings.Cut(strings.TrimPrefix(p.ImportPath, mod), "/")
		for _, imp := range append(p.Imports, p.TestImports...) {
			for _, bad := range rules[dir] {
				if imp == bad || strings.HasPrefix(imp, strings.TrimSuffix(bad, "/")+"/") || (strings.HasSuffix(bad, "/") && strings.HasPrefix(imp, bad)) {
					t.Errorf("%s imports %s: %s/ must not import %s", p.ImportPath, imp, dir, bad)
				}
			}
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("only %d packages checked", checked)
	}
}
