package packaging

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository's root: tests run in packaging/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unit is a parsed systemd unit file: section → key → values (a key may
// repeat).
type unit map[string]map[string][]string

// parseUnit reads a systemd unit file (comments, sections, key=value,
// backslash continuations).
func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	u := unit{}
	section := ""
	var cont string
	sc := bufio.NewScanner(strings.NewReader(readFile(t, path)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cont != "" {
			line = cont + " " + line
			cont = ""
		}
		if strings.HasSuffix(line, "\\") {
			cont = strings.TrimSuffix(line, "\\")
			continue
		}
		switch {
		case line == "", line[0] == '#', line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: bad line %q", path, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// get is the last value of key (the one systemd uses for a single-valued
// setting).
func (u unit) get(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// words is every space-separated word of every value of key (list
// settings such as After= accumulate).
func (u unit) words(section, key string) []string {
	var ws []string
	for _, v := range u[section][key] {
		ws = append(ws, strings.Fields(v)...)
	}
	return ws
}

// envLine is one variable of an environment file.
type envLine struct {
	value     string
	commented bool // "#VAR=value": documented, not set
}

// parseEnvFile reads an /etc/default file as systemd's EnvironmentFile
// does (VAR=value lines) and also collects the commented-out "#VAR=value"
// lines that document a default.
func parseEnvFile(t *testing.T, path string) map[string]envLine {
	t.Helper()
	vars := map[string]envLine{}
	for _, line := range strings.Split(readFile(t, path), "\n") {
		line = strings.TrimSpace(line)
		commented := strings.HasPrefix(line, "#")
		body := strings.TrimPrefix(line, "#")
		k, v, ok := strings.Cut(body, "=")
		if !ok || !isEnvName(k) {
			if !commented && line != "" {
				t.Fatalf("%s: line %q is neither a comment nor VAR=value", path, line)
			}
			continue
		}
		if strings.ContainsAny(v, `"'$`) {
			t.Errorf("%s: %s=%s: values must be plain (no quotes or $): systemd does no shell parsing", path, k, v)
		}
		if prev, dup := vars[k]; dup && !prev.commented && !commented {
			t.Errorf("%s: %s set twice", path, k)
		}
		if _, dup := vars[k]; !dup || !commented {
			vars[k] = envLine{value: v, commented: commented}
		}
	}
	return vars
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r >= 'A' && r <= 'Z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// setVars returns the variables an environment file actually sets.
func setVars(vars map[string]envLine) map[string]string {
	m := map[string]string{}
	for k, l := range vars {
		if !l.commented {
			m[k] = l.value
		}
	}
	return m
}
