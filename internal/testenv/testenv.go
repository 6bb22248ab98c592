// Package testenv decides what a test does when something it needs from
// the machine (PostgreSQL, Chromium, a display) is missing: on a
// developer's machine it skips with a loud message; in CI (CI=true) it
// fails, so a green CI run always means those tests ran.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI (the CI variable is "true").
func InCI() bool { return os.Getenv("CI") == "true" }

// Need stops the test when what is missing: t.Fatal under CI, t.Skip
// otherwise. hint says how to provide it.
func Need(t testing.TB, what, hint string) {
	t.Helper()
	msg := "NOT RUN: " + what + " is not available (" + hint + ")"
	if InCI() {
		t.Fatal(msg + "; CI=true requires it")
	}
	t.Skip("*** " + msg + " ***")
}
