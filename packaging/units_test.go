package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestUnits checks the settings of the systemd units that operators and
// the other packages rely on.
func TestUnits(t *testing.T) {
	type want struct{ section, key, value string }
	tests := []struct {
		file string
		want []want
	}{
		{"cloud/visitor-cloud.service", []want{
			{"Service", "User", "visitor"},
			{"Service", "Group", "visitor"},
			{"Service", "EnvironmentFile", "/etc/default/visitor-cloud"},
			{"Service", "ExecStart", "/usr/bin/visitor-cloud serve"},
			{"Service", "StateDirectory", "visitor-cloud"},
			{"Service", "WorkingDirectory", "/var/lib/visitor-cloud"},
			{"Service", "Restart", "on-failure"},
			{"Service", "RestartPreventExitStatus", "2"},
			{"Service", "ProtectSystem", "strict"},
			{"Service", "ProtectHome", "yes"},
			{"Service", "NoNewPrivileges", "yes"},
			{"Service", "PrivateTmp", "yes"},
			{"Service", "PrivateDevices", "yes"},
			{"Service", "ProtectKernelTunables", "yes"},
			{"Service", "ProtectKernelModules", "yes"},
			{"Service", "ProtectControlGroups", "yes"},
			{"Service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
			{"Service", "LockPersonality", "yes"},
			{"Service", "MemoryDenyWriteExecute", "yes"},
			{"Service", "SystemCallFilter", "@system-service"},
			{"Install", "WantedBy", "multi-user.target"},
		}},
		{"kiosk/visitor-kiosk.service", []want{
			{"Service", "User", "kiosk"},
			{"Service", "PAMName", "login"},
			{"Service", "TTYPath", "/dev/tty1"},
			{"Service", "Restart", "always"},
			{"Service", "StateDirectory", "visitor-kiosk"},
			{"Service", "WorkingDirectory", "/var/lib/visitor-kiosk"},
			{"Service", "EnvironmentFile", "-/etc/default/visitor-kiosk"},
			{"Service", "ExecStart", "/usr/bin/cage -- /usr/bin/visitor-kiosk --fullscreen --data ${VISITOR_EDGE_DATA}"},
			{"Service", "NoNewPrivileges", "yes"},
			{"Install", "WantedBy", "multi-user.target"},
		}},
		{"kiosk/visitor-edge.service", []want{
			{"Service", "User", "kiosk"},
			{"Service", "StateDirectory", "visitor-kiosk"},
			{"Service", "EnvironmentFile", "-/etc/default/visitor-kiosk"},
			{"Service", "ExecStart", "/usr/bin/visitor-edge"},
			{"Service", "Restart", "on-failure"},
			{"Service", "ProtectSystem", "strict"},
			{"Service", "NoNewPrivileges", "yes"},
			{"Service", "PrivateDevices", "yes"},
			{"Service", "RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			u := parseUnit(t, tt.file)
			for _, w := range tt.want {
				if got := u.get(w.section, w.key); got != w.value {
					t.Errorf("[%s] %s = %q, want %q", w.section, w.key, got, w.value)
				}
			}
		})
	}

	t.Run("kiosk session order", func(t *testing.T) {
		u := parseUnit(t, "kiosk/visitor-kiosk.service")
		for _, c := range []struct{ key, unit string }{
			{"After", "systemd-user-sessions.service"},
			{"Conflicts", "getty@tty1.service"},
			{"Conflicts", "visitor-edge.service"},
		} {
			if !slices.Contains(u.words("Unit", c.key), c.unit) {
				t.Errorf("[Unit] %s does not name %s: %v", c.key, c.unit, u.words("Unit", c.key))
			}
		}
		e := parseUnit(t, "kiosk/visitor-edge.service")
		if !slices.Contains(e.words("Unit", "Conflicts"), "visitor-kiosk.service") {
			t.Error("visitor-edge must conflict with the kiosk session: one engine per data directory")
		}
	})

	// The data locations in the environment files must be the state
	// directories systemd creates and hands to the service user.
	t.Run("data under the state directories", func(t *testing.T) {
		cloud := setVars(parseEnvFile(t, "cloud/visitor-cloud.default"))
		if got, want := cloud["DATABASE_URL"], "sqlite:/var/lib/"+parseUnit(t, "cloud/visitor-cloud.service").get("Service", "StateDirectory")+"/cloud.db"; got != want {
			t.Errorf("packaged DATABASE_URL = %q, want %q", got, want)
		}
		for _, file := range []string{"kiosk/visitor-kiosk.service", "kiosk/visitor-edge.service"} {
			u := parseUnit(t, file)
			want := "VISITOR_EDGE_DATA=/var/lib/" + u.get("Service", "StateDirectory")
			if !slices.Contains(u["Service"]["Environment"], want) {
				t.Errorf("%s: Environment lacks %s (the default when /etc/default/visitor-kiosk is gone)", file, want)
			}
		}
		if got := setVars(parseEnvFile(t, "kiosk/visitor-kiosk.default"))["VISITOR_EDGE_DATA"]; got != "/var/lib/visitor-kiosk" {
			t.Errorf("packaged VISITOR_EDGE_DATA = %q", got)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		verifyUnits(t, []string{"cloud/visitor-cloud.service", "kiosk/visitor-kiosk.service", "kiosk/visitor-edge.service"})
	})
}

// verifyUnits runs systemd-analyze verify on each unit file (optional:
// skipped when systemd-analyze is missing). systemd-analyze exits 0 even
// for unknown keys and unparsable values, so any message other than a
// command that is not installed on this machine fails the test.
func verifyUnits(t *testing.T, files []string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed; unit files not verified (optional)")
	}
	notInstalled := regexp.MustCompile(`Command /usr/bin/(cage|visitor-[a-z]+) is not executable`)
	for _, f := range files {
		// A copy, so that the unit's name is its base name and nothing
		// else in the folder is picked up.
		dir := t.TempDir()
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, []byte(readFile(t, f)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("systemd-analyze", "verify", "--man=no", dst).CombinedOutput()
		excused := false // the exit status is 1 when a command is missing
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			switch {
			case line == "":
			case notInstalled.MatchString(line):
				excused = true
			default:
				t.Errorf("systemd-analyze verify %s: %s", f, line)
			}
		}
		if err != nil && !excused {
			t.Errorf("systemd-analyze verify %s: %v\n%s", f, err, out)
		}
	}
}
