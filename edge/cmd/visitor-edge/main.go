// Command visitor-edge is the kiosk engine without a screen: the local
// database, the sync client and the loopback JSON API.
//
//	visitor-edge [--data DIR] [--cloud URL] [--local-api ADDR]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/theonestack/visitor/edge"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := edge.Run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "visitor-edge:", err)
		os.Exit(edge.ExitCode(err))
	}
}
