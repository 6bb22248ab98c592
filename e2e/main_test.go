// Package e2e runs the whole system as its users and operators do: real
// visitor-cloud and visitor-edge processes talking over real WebSockets,
// with faults injected by a proxy between them (partitions, lost acks,
// latency, tiny chunks) and by killing processes with SIGKILL. Every test
// ends with a set check: each check-in the kiosk acknowledged is in the
// cloud exactly once, with exactly one visitor.checked_in event.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds the binaries built once for the whole run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "visitor-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "../cloud/cmd/visitor-cloud", "../edge/cmd/visitor-edge")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
