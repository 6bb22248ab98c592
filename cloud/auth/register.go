package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/theonestack/visitor"
)

// Registrar registers the product's permissions with Hub:
// PUT {HubURL}/api/hub/products/visitor/permissions with the integration
// key. Run retries until Hub accepts, so start-up never waits for Hub.
type Registrar struct {
	HubURL string
	// Key is sent as X-Integration-Key (BUS_INTEGRATION_KEY); it is never logged.
	Key string
	// Permissions to register; nil means visitor.Permissions().
	Permissions []visitor.PermissionInfo
	// Client makes the calls; nil means a client with a 10 s timeout.
	Client *http.Client
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between attempts (defaults
	// 1 s and 60 s; full jitter, doubling).
	MinBackoff, MaxBackoff time.Duration
	// Sleep waits d or until ctx ends; nil means a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Register makes one attempt. Any answer but 2xx is an error.
func (g *Registrar) Register(ctx context.Context) error {
	perms := g.Permissions
	if perms == nil {
		perms = visitor.Permissions()
	}
	body, err := json.Marshal(map[string]any{"permissions": perms})
	if err != nil {
		return err
	}
	u := strings.TrimRight(g.HubURL, "/") + "/api/hub/products/visitor/permissions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("register permissions: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if g.Key != "" {
		req.Header.Set("X-Integration-Key", g.Key)
	}
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("register permissions: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("register permissions: Hub answered %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// Run registers, retrying with backoff until Hub accepts or ctx ends. It
// returns nil on success and ctx's error when cancelled first.
func (g *Registrar) Run(ctx context.Context) error {
	log := g.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "permissions")
	lo, hi := g.MinBackoff, g.MaxBackoff
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = max(60*time.Second, lo)
	}
	sleep := g.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	if g.Key == "" {
		log.Warn("BUS_INTEGRATION_KEY is not set; registering permissions without a key")
	}
	for attempt := 1; ; attempt++ {
		err := g.Register(ctx)
		if err == nil {
			log.Info("permissions registered with Hub", "count", len(visitor.Permissions()), "attempts", attempt)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ceiling := min(hi, lo<<min(attempt-1, 16))
		wait := time.Duration(rand.Int64N(int64(ceiling)) + 1)
		log.Warn("permission registration failed; retrying", "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
