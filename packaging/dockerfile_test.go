package packaging

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with continuations joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	var ins []instruction
	var cur string
	for _, line := range strings.Split(readFile(t, path), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		ins = append(ins, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	return ins
}

// TestDockerfile checks the container recipe's structure (no Docker
// engine here to build it): a Go 1.26 builder making static binaries, a
// distroless final stage running as a non-root user, port 8080, a
// HEALTHCHECK whose probe is built and copied in, and every package path
// it builds exists in the repository.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	ins := parseDockerfile(t, "container/Dockerfile")

	// Stages.
	var stages [][]instruction
	var names []string
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
			f := strings.Fields(in.args)
			name := ""
			if len(f) >= 3 && strings.EqualFold(f[len(f)-2], "AS") {
				name = f[len(f)-1]
			}
			names = append(names, name)
		}
		if len(stages) == 0 {
			t.Fatalf("%s before the first FROM", in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) != 2 {
		t.Fatalf("want a builder and a final stage, got %d stages", len(stages))
	}
	builder, final := stages[0], stages[1]
	if !strings.Contains(builder[0].args, "golang:1.26-bookworm") || names[0] == "" {
		t.Errorf("builder: FROM %s; want a named golang:1.26-bookworm stage", builder[0].args)
	}
	if got := final[0].args; got != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage FROM %s", got)
	}

	find := func(stage []instruction, cmd string) []string {
		var args []string
		for _, in := range stage {
			if in.cmd == cmd {
				args = append(args, in.args)
			}
		}
		return args
	}
	builderText := strings.Join(append(find(builder, "ENV"), find(builder, "RUN")...), "\n")
	if !strings.Contains(builderText, "CGO_ENABLED=0") {
		t.Error("the builder must build static binaries (CGO_ENABLED=0): the final image has no libc")
	}
	// Every package the builder builds exists.
	for _, f := range strings.Fields(builderText) {
		if strings.HasPrefix(f, "./") && !strings.HasPrefix(f, "./...") {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("the builder builds %s, which does not exist", f)
			}
		}
	}

	// Non-root.
	users := find(final, "USER")
	if len(users) == 0 {
		t.Fatal("the final stage sets no USER")
	}
	if u, _, _ := strings.Cut(users[len(users)-1], ":"); u == "root" || u == "0" {
		t.Errorf("USER %s: the service must not run as root", users[len(users)-1])
	}
	if !slices.Contains(find(final, "EXPOSE"), "8080") {
		t.Errorf("EXPOSE %v, want 8080", find(final, "EXPOSE"))
	}
	env := strings.Join(find(final, "ENV"), " ")
	for _, want := range []string{"LISTEN_ADDR=0.0.0.0:8080", "DATABASE_URL=sqlite:/var/lib/visitor-cloud/cloud.db"} {
		if !strings.Contains(env, want) {
			t.Errorf("final ENV lacks %s (a container must listen beyond loopback and keep data in its volume)", want)
		}
	}
	if !slices.ContainsFunc(find(final, "VOLUME"), func(v string) bool { return strings.Contains(v, "/var/lib/visitor-cloud") }) {
		t.Error("no VOLUME for /var/lib/visitor-cloud")
	}
	if ep := find(final, "ENTRYPOINT"); len(ep) != 1 || ep[0] != `["/usr/bin/visitor-cloud"]` {
		t.Errorf("ENTRYPOINT %v", ep)
	}

	// The health check runs a binary that is in the image (exec form: no
	// shell in distroless).
	hc := find(final, "HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("want one HEALTHCHECK, got %v", hc)
	}
	_, cmd, ok := strings.Cut(hc[0], "CMD ")
	if !ok || !strings.HasPrefix(cmd, `["/usr/bin/visitor-healthcheck"`) {
		t.Fatalf("HEALTHCHECK %q: want the exec form running /usr/bin/visitor-healthcheck", hc[0])
	}
	copies := strings.Join(find(final, "COPY"), "\n")
	if !strings.Contains(copies, "--from="+names[0]+" /out/usr/bin/ /usr/bin/") || !strings.Contains(builderText, "/out/usr/bin/visitor-healthcheck") {
		t.Errorf("the health probe is not built into /out/usr/bin and copied to /usr/bin:\n%s", copies)
	}
	if !strings.Contains(builderText, "./packaging/container/healthcheck") {
		t.Error("the builder does not build the health probe")
	}
}
