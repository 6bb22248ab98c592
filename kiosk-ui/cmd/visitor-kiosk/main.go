// Command visitor-kiosk is the lobby kiosk: the Fyne app over the edge
// engine, with badge printing.
//
//	visitor-kiosk [--data DIR] [--cloud URL] [--fullscreen] [--idle 60s] [--screenshot FILE]
//
// Environment: VISITOR_EDGE_DATA, VISITOR_CLOUD_URL, VISITOR_KIOSK_IDLE and
// VISITOR_KIOSK_PIN (the staff PIN of the admin screen; without it the
// admin screen stays locked). A flag wins over the environment. A bad
// value exits with status 2 and names the variable.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2/app"

	"github.com/theonestack/visitor/edge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, app.NewWithID("com.theonestack.visitor.kiosk"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "visitor-kiosk:", err)
		os.Exit(edge.ExitCode(err))
	}
}
