// Command visitor-cloud is The One Visitor's cloud service: Hub sign-in,
// the staff console, the JSON API, the kiosk sync endpoint, billing,
// search, Bus events and the integration endpoints.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/theonestack/visitor/cloud"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cloud.Run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if code := cloud.ExitCode(err); code != 0 {
			fmt.Fprintln(os.Stderr, "visitor-cloud:", err)
			os.Exit(code)
		}
	}
}
