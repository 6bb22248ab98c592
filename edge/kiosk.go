package edge

import (
	"context"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/printq"
	"github.com/theonestack/visitor/edge/store"
)

// What the kiosk app needs beyond edgeapi.Service: badges and the
// tenant's settings. The visitor-edge command does not use these.

// queueBadge queues visit v's badge after its check-in committed. A failure
// is logged and never fails the check-in: the confirmation screen finds no
// job for the visit and asks the visitor to see reception.
func (e *Engine) queueBadge(ctx context.Context, v visitor.Visit) {
	if e.printq == nil {
		return
	}
	if _, err := e.printq.Enqueue(context.WithoutCancel(ctx), v); err != nil {
		e.log.Error("badge not queued; the visitor is asked to see reception", "visit_id", v.ID, "err", err)
	}
}

// PrintQueue returns the badge print queue, or nil when the engine was
// opened without Options.PrintBadges.
func (e *Engine) PrintQueue() *printq.Queue { return e.printq }

// RunPrinter prints queued badges until ctx ends (see printq.Queue.Run)
// and returns ctx's error. Without a print queue it just waits for ctx.
func (e *Engine) RunPrinter(ctx context.Context) error {
	if e.printq == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	return e.printq.Run(ctx)
}

// BadgeJob returns the newest print job of a visit (ENOTFOUND when its
// badge was never queued, or printing is off).
func (e *Engine) BadgeJob(ctx context.Context, visitID string) (printq.Job, error) {
	if e.printq == nil {
		return printq.Job{}, visitor.Errorf(visitor.ENOTFOUND, "badge printing is off")
	}
	return e.printq.JobForVisit(ctx, visitID)
}

// KioskInfo returns the names of the kiosk's tenant and location.
func (e *Engine) KioskInfo(ctx context.Context) (store.KioskInfo, error) { return e.db.KioskInfo(ctx) }

// Settings returns the tenant's synced settings (NDA, required fields,
// badge template, logo); zero before any arrived.
func (e *Engine) Settings(ctx context.Context) (visitor.TenantSettings, error) {
	return e.db.Settings(ctx)
}
