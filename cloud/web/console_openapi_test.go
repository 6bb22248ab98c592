package web_test

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/theonestack/visitor/cloud/store/storetest"
)

// openAPIOps reads cloud/api/openapi.yaml's paths section: operation
// "METHOD /path" (Echo's :param form) → its x-permission.
func openAPIOps(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRE := regexp.MustCompile(`^  (/[^:\s]*):\s*$`)
	methodRE := regexp.MustCompile(`^    (get|put|post|patch|delete|head|options):\s*$`)
	permRE := regexp.MustCompile(`^      x-permission:\s*(\S+)\s*$`)
	paramRE := regexp.MustCompile(`\{([^}]+)\}`)
	ops := map[string]string{}
	inPaths := false
	path, op := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") && strings.TrimSpace(line) != "" {
			inPaths = strings.HasPrefix(line, "paths:")
			continue
		}
		if !inPaths {
			continue
		}
		if m := pathRE.FindStringSubmatch(line); m != nil {
			path = paramRE.ReplaceAllString(m[1], ":$1")
			continue
		}
		if m := methodRE.FindStringSubmatch(line); m != nil {
			op = strings.ToUpper(m[1]) + " " + path
			ops[op] = ""
			continue
		}
		if m := permRE.FindStringSubmatch(line); m != nil && op != "" {
			ops[op] = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ops
}

// TestOpenAPICoversAPI: every /api/v1 route in Echo's table is documented
// in cloud/api/openapi.yaml with the permission the route declares, and
// the document describes no route that does not exist.
func TestOpenAPICoversAPI(t *testing.T) {
	s, _ := newServer(t, storetest.SQLite)
	ops := openAPIOps(t)
	if len(ops) < 15 {
		t.Fatalf("openapi.yaml has only %d operations", len(ops))
	}
	seen := map[string]bool{}
	for _, r := range s.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		key := r.Method + " " + r.Path
		seen[key] = true
		perm, documented := ops[key]
		if !documented {
			t.Errorf("route %s is not in cloud/api/openapi.yaml", key)
			continue
		}
		want, _ := s.Permission(r.Method, r.Path)
		if perm != string(want) {
			t.Errorf("%s: openapi.yaml says x-permission %q, the route declares %q", key, perm, want)
		}
	}
	for op := range ops {
		if !seen[op] {
			t.Errorf("openapi.yaml documents %s, which is not a route", op)
		}
	}
}
