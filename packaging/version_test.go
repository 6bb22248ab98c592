package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVersion runs packaging/version against a stand-in git that answers
// describe and rev-list as a checkout in each state would, and checks the
// Debian version it makes: it starts with a digit, sorts upwards, and a
// pre-release tag sorts below its release.
func TestVersion(t *testing.T) {
	debVersion := regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)
	tests := []struct{ describe, want string }{
		{"v1.4.0", "1.4.0"},
		{"v1.4.0-3-g1a2b3c4", "1.4.0+3.g1a2b3c4"},
		{"v1.4.0-3-g1a2b3c4-dirty", "1.4.0+3.g1a2b3c4.dirty"},
		{"v1.4.0-rc1", "1.4.0~rc1"},
		{"v1.4.0-rc1-2-gabcdef0", "1.4.0~rc1+2.gabcdef0"},
		{"1a2b3c4", "0.0.0+git57.g1a2b3c4"},
		{"abcdef0-dirty", "0.0.0+git57.gabcdef0.dirty"},
	}
	script, err := filepath.Abs("version")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.describe, func(t *testing.T) {
			bin := t.TempDir()
			git := "#!/bin/sh\ncase $1 in describe) echo '" + tt.describe + "' ;; rev-list) echo 57 ;; *) exit 1 ;; esac\n"
			if err := os.WriteFile(filepath.Join(bin, "git"), []byte(git), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", script)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got := strings.TrimSpace(string(out))
			if got != tt.want || !debVersion.MatchString(got) {
				t.Errorf("version for %q = %q, want %q", tt.describe, got, tt.want)
			}
		})
	}
	// Ordering, where dpkg is there to judge it.
	if _, err := exec.LookPath("dpkg"); err == nil {
		for _, pair := range [][2]string{{"1.4.0~rc1", "1.4.0"}, {"1.4.0", "1.4.0+3.g1a2b3c4"}, {"0.0.0+git57.g1a2b3c4", "1.4.0~rc1"}, {"0.0.0+git57.gffffff0", "0.0.0+git58.g0000000"}} {
			if err := exec.Command("dpkg", "--compare-versions", pair[0], "lt", pair[1]).Run(); err != nil {
				t.Errorf("dpkg: %s is not below %s", pair[0], pair[1])
			}
		}
	}
}
