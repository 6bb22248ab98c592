// Command visitor-demo runs the whole One Visitor system on one machine with
// a seeded demo organisation: the development Hub, the cloud on SQLite and
// one kiosk (the Fyne app when a display is available, else the headless
// kiosk engine), paired to the demo's head office.
//
//	visitor-demo [--data DIR] [--bin DIR] [--kiosk auto|app|headless] [--pair-manually]
//	             [--hub-addr ADDR] [--cloud-addr ADDR] [--kiosk-addr ADDR] [--public-host HOST]
//
// `make demo` builds the binaries and runs it. Every flag is also an
// environment variable (DEMO_DATA, DEMO_BIN, DEMO_KIOSK, DEMO_PAIR_MANUALLY,
// DEMO_HUB_ADDR, DEMO_CLOUD_ADDR, DEMO_KIOSK_ADDR, DEMO_PUBLIC_HOST,
// DEMO_STOP_TIMEOUT); a flag wins. Ctrl-C stops every child: SIGTERM, then
// SIGKILL after the stop timeout. docs/demo.md describes what it starts.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "visitor-demo:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
