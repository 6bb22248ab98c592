package packaging

import (
	"path/filepath"
	"strings"
	"testing"
)

// readmeVariable is one row of the README's configuration table.
type readmeVariable struct {
	name string
	def  string // the default column without backticks; "" for none (—)
}

// readmeVariables reads the configuration table of README.md.
func readmeVariables(t *testing.T) []readmeVariable {
	t.Helper()
	text := readFile(t, filepath.Join(repoRoot(t), "README.md"))
	_, section, ok := strings.Cut(text, "## Configuration of the cloud")
	if !ok {
		t.Fatal("README.md has no \"## Configuration of the cloud\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var vars []readmeVariable
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if !isEnvName(name) {
			continue
		}
		def := strings.TrimSpace(cells[4])
		if strings.HasPrefix(def, "`") {
			def = strings.Trim(def, "`")
		} else {
			def = "" // "— (…)": no default
		}
		vars = append(vars, readmeVariable{name, def})
	}
	if len(vars) < 9 {
		t.Fatalf("found only %d variables in README.md's configuration table: %v", len(vars), vars)
	}
	return vars
}

// TestCloudEnvFileDocumentsEveryVariable checks /etc/default/visitor-cloud
// against README.md's configuration table: every variable appears, either
// set or as a commented-out line, with the README's default; the package
// changes only DATABASE_URL (its state directory).
func TestCloudEnvFileDocumentsEveryVariable(t *testing.T) {
	env := parseEnvFile(t, "cloud/visitor-cloud.default")
	text := readFile(t, "cloud/visitor-cloud.default")
	packaged := map[string]string{"DATABASE_URL": "sqlite:/var/lib/visitor-cloud/cloud.db"}
	names := map[string]bool{}
	for _, v := range readmeVariables(t) {
		names[v.name] = true
	}
	for _, v := range readmeVariables(t) {
		t.Run(v.name, func(t *testing.T) {
			l, ok := env[v.name]
			if !ok {
				t.Fatalf("%s is not in the environment file (neither set nor as #%s=)", v.name, v.name)
			}
			switch {
			case packaged[v.name] != "":
				if l.commented || l.value != packaged[v.name] {
					t.Errorf("%s: got %+v, want it set to %q", v.name, l, packaged[v.name])
				}
			case names[v.def]: // the default is another variable's value
				if !l.commented || l.value != "" {
					t.Errorf("%s defaults to %s: want a commented-out empty line, got %+v", v.name, v.def, l)
				}
				if !strings.Contains(text, "the value of "+v.def) {
					t.Errorf("%s: the file does not say it defaults to the value of %s", v.name, v.def)
				}
			case v.def == "":
				if !l.commented || l.value != "" {
					t.Errorf("%s has no default: want a commented-out empty line, got %+v", v.name, l)
				}
			default:
				if l.value != v.def {
					t.Errorf("%s = %q, README's default is %q", v.name, l.value, v.def)
				}
			}
		})
	}
	for name, l := range env {
		if !names[name] {
			t.Errorf("%s (%+v) is in the environment file but not in README.md's table", name, l)
		}
	}
}

// TestKioskEnvFile checks /etc/default/visitor-kiosk: the three variables
// of the edge engine (DESIGN.md §3, visitor-edge command line).
func TestKioskEnvFile(t *testing.T) {
	env := parseEnvFile(t, "kiosk/visitor-kiosk.default")
	want := map[string]string{
		"VISITOR_EDGE_DATA": "/var/lib/visitor-kiosk",
		"VISITOR_CLOUD_URL": "http://localhost:8080",
		"VISITOR_LOCAL_API": "127.0.0.1:7071",
	}
	for name, value := range want {
		if l, ok := env[name]; !ok || l.value != value {
			t.Errorf("%s = %+v (present %v), want %q", name, l, ok, value)
		}
	}
	if len(env) != len(want) {
		t.Errorf("unexpected variables: %v", env)
	}
}
