package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	qrcode "github.com/skip2/go-qrcode"
)

// banner prints where everything is, the demo users and what to try first.
func (d *demo) banner(s state, loc apiLocation, seeded seedResult, users []hubUser, code *pairingCode) {
	w := &strings.Builder{}
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("")
	p("  The One Visitor demo is running.")
	p("")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    Console\t%s\tsign in on the development Hub's page\n", s.ConsoleURL)
	fmt.Fprintf(tw, "    Development Hub\t%s\tBus events: %sapi/devhub/events\n", s.HubURL, s.HubURL)
	switch {
	case s.Kiosk == kioskApp:
		fmt.Fprintf(tw, "    Kiosk\tthe kiosk app window\tat %s (%s)\n", loc.Name, loc.Timezone)
	default:
		fmt.Fprintf(tw, "    Kiosk\t%s\theadless kiosk engine at %s (%s)\n", s.KioskAPI, loc.Name, loc.Timezone)
	}
	fmt.Fprintf(tw, "    Data\t%s\tlogs in %s\n", d.dataDir, d.logDir)
	tw.Flush()
	p("")
	p("  Demo organisation %s: %s.", demoTenant, seeded.summary())
	if len(users) > 0 {
		p("")
		p("  Users of the development Hub (pick one on its sign-in page):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, u := range users {
			org := u.OrgID
			if org == "" {
				org = "no organisation (sees \"No account found\")"
			}
			perms := fmt.Sprintf("%d permissions", len(u.Permissions))
			if len(u.Permissions) == 1 && u.Permissions[0] == "*" {
				perms = "all twelve permissions"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Role, org, perms)
		}
		tw.Flush()
	}
	p("")
	switch {
	case code != nil:
		p("  The kiosk is NOT paired (--pair-manually). Its code is %s (valid until %s).", code.UserCode, code.Expires.Local().Format("15:04"))
		p("  Scan the QR code with a phone, or open %spair and type the code; pick %s.", s.ConsoleURL, loc.Name)
		if qr, err := qrcode.New(code.URI, qrcode.Medium); err == nil {
			p("%s", indent(qr.ToSmallString(false), "    "))
		}
		p("  A new code if this one expires: curl -s -X POST %s/v1/pairing", s.KioskAPI)
	case !s.Paired && s.Kiosk == kioskApp:
		p("  The kiosk app shows its pairing QR code (--pair-manually): scan it, or open %spair", s.ConsoleURL)
		p("  and type the code it shows; pick %s.", loc.Name)
	}
	host := seeded.HostIDs["ada.lovelace@acme.example"]
	p("  Try first:")
	p("    1. Open %svisits and sign in as Ada Admin (u_admin): the live visitor log.", s.ConsoleURL)
	if s.Kiosk == kioskApp {
		p("    2. On the kiosk, tap Check in, type a name and pick Ada Lovelace as host.")
		p("       The visit appears in the console's visitor log within a second.")
		p("    3. Check in with the invite code ACMEGST2 (Katherine Johnson, expected today).")
	} else {
		p("    2. Check a visitor in at the kiosk; the visit appears in the visitor log within a second:")
		p(`         curl -s -H 'Content-Type: application/json' %s/v1/checkins -d '{"name":"Grace Hopper","email":"grace@example.com","company":"Navy","host_id":"%s"}'`, s.KioskAPI, host)
		p("    3. Check in a pre-registered guest with an invite code:")
		p(`         curl -s -H 'Content-Type: application/json' %s/v1/checkins -d '{"invite_code":"ACMEGST2"}'`, s.KioskAPI)
		p("    4. Who is on site, and check out by badge number:")
		p("         curl -s '%s/v1/visits?status=on_site'", s.KioskAPI)
		p(`         curl -s -H 'Content-Type: application/json' %s/v1/checkouts -d '{"badge_number":"101"}'`, s.KioskAPI)
	}
	p("    Then: Displays (the kiosk, online), Badges, Pre-registrations, the audit trail; sign in as")
	p("    u_reception or u_security to see what each role may do.")
	p("")
	p("  Press Ctrl-C to stop. Run it again to keep this data; `make demo-reset` starts over.")
	p("")
	fmt.Fprint(d.out, w.String())
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n")
}
