// Package bus delivers the cloud's Bus events: a relay that reads the
// transactional outbox and posts CloudEvents 1.0 batches to
// {BUS_URL}/api/bus/events.
//
// Delivery is at least once with a stable event id (the outbox row's id),
// in outbox order. While the Bus is down or answers 408, 429 or 5xx the
// batch is retried with exponential backoff; another 4xx means some event
// of the batch is refused for good, so the batch is split and each event
// sent alone: the refused one is parked (visible in Settings) and the rest
// are delivered. With several instances a lease makes one instance at a
// time the sender.
package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/cloud/store"
)

// CloudEvent is a CloudEvents 1.0 event in structured JSON form, with the
// tenantid extension.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	Subject         string          `json:"subject"`
	DataContentType string          `json:"datacontenttype"`
	TenantID        string          `json:"tenantid,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// ToCloudEvent turns an outbox event into its CloudEvent, time in RFC 3339
// with the change's original time.
func ToCloudEvent(e visitor.OutboxEvent) CloudEvent {
	return CloudEvent{
		SpecVersion: "1.0", ID: e.ID, Source: "visitor", Type: e.Type,
		Time: e.Time.UTC().Format(time.RFC3339Nano), Subject: e.Subject,
		DataContentType: "application/json", TenantID: e.TenantID, Data: e.Data,
	}
}

// Options are optional settings of a Relay; the zero value works.
type Options struct {
	HTTP     *http.Client     // nil: a client with a 10 s timeout
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: discard
	Interval time.Duration    // how often to look for due events (default 1 s)
	Batch    int              // events per post (default 100)
	Holder   string           // this instance's lease holder name (default random)
	Rand     func() float64   // jitter source in [0,1) (default math/rand/v2)
}

// Relay moves outbox events to the Bus. Run it with Run; Wake asks it to
// look for work now.
type Relay struct {
	db   *store.DB
	url  string
	key  string
	opts Options
	log  *slog.Logger
	wake chan struct{}
}

// LeaseName is the lease that makes one instance at a time the sender.
const LeaseName = "bus-relay"

// New makes a relay posting to busURL with sdkKey. An empty sdkKey keeps
// events queued (Run logs a warning and records it in the health table).
func New(db *store.DB, busURL, sdkKey string, opts Options) *Relay {
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Holder == "" {
		opts.Holder = fmt.Sprintf("relay-%016x", rand.Uint64())
	}
	return &Relay{db: db, url: strings.TrimRight(busURL, "/") + "/api/bus/events", key: sdkKey, opts: opts,
		log: opts.Logger.With("component", "bus"), wake: make(chan struct{}, 1)}
}

// Wake asks the relay to deliver now rather than at its next tick. It
// never blocks.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	if r.key == "" {
		r.log.Warn("BUS_SDK_KEY is not set: Bus events stay queued until it is")
		r.db.RecordHealth(ctx, "bus", errors.New("BUS_SDK_KEY is not set; events are queued"))
	}
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		if r.key != "" {
			if _, err := r.Deliver(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("bus delivery", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			r.db.ReleaseLease(context.Background(), LeaseName, r.opts.Holder)
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// Deliver sends the events that are due, if this instance holds the relay
// lease, and returns how many were delivered.
func (r *Relay) Deliver(ctx context.Context) (int, error) {
	held, err := r.db.AcquireLease(ctx, LeaseName, r.opts.Holder, 30*time.Second)
	if err != nil || !held {
		return 0, err
	}
	delivered := 0
	for {
		events, err := r.db.DueEvents(ctx, r.opts.Batch)
		if err != nil || len(events) == 0 {
			return delivered, err
		}
		n, retry, err := r.sendBatch(ctx, events)
		delivered += n
		if err != nil || retry {
			return delivered, err
		}
	}
}

// sendBatch posts events; retry reports that the Bus is unavailable and
// the events were rescheduled.
func (r *Relay) sendBatch(ctx context.Context, events []visitor.OutboxEvent) (delivered int, retry bool, err error) {
	status, cause := r.post(ctx, events)
	ids := idsOf(events)
	switch {
	case cause == nil:
		if err := r.db.MarkEventsDelivered(ctx, ids); err != nil {
			return 0, false, err
		}
		r.db.RecordHealth(ctx, "bus", nil)
		return len(events), false, nil
	case retryable(status):
		r.db.RecordHealth(ctx, "bus", cause)
		r.log.Warn("bus unavailable; will retry", "status", status, "events", len(events), "err", cause)
		next := r.opts.Now().Add(r.backoff(events[0].Attempts))
		return 0, true, r.db.RetryEvents(ctx, ids, cause.Error(), next)
	case len(events) == 1:
		r.db.RecordHealth(ctx, "bus", cause)
		r.log.Error("bus refused an event; parked", "event_id", events[0].ID, "type", events[0].Type, "status", status)
		return 0, false, r.db.ParkEvent(ctx, events[0].ID, cause.Error())
	}
	// Some event of the batch is refused: send each alone so the others
	// get through and only the refused one is parked.
	for _, e := range events {
		n, retry, err := r.sendBatch(ctx, []visitor.OutboxEvent{e})
		delivered += n
		if err != nil || retry {
			return delivered, retry, err
		}
	}
	return delivered, false, nil
}

// post sends one batch and returns the status (0 for a transport error)
// and an error unless the Bus answered 2xx.
func (r *Relay) post(ctx context.Context, events []visitor.OutboxEvent) (int, error) {
	batch := make([]CloudEvent, len(events))
	for i, e := range events {
		batch[i] = ToCloudEvent(e)
	}
	body, err := json.Marshal(batch)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/cloudevents-batch+json")
	req.Header.Set("Authorization", "Bearer "+r.key)
	resp, err := r.opts.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to bus: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, fmt.Errorf("bus answered %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
}

// retryable: transport errors, 408, 429 and 5xx (DESIGN.md: other 4xx are parked).
func retryable(status int) bool {
	return status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// backoff is exponential from 1 s to 5 min by attempts, with full jitter
// on the upper half so a fleet of instances does not retry in step.
func (r *Relay) backoff(attempts int) time.Duration {
	d := time.Second << min(attempts, 9)
	d = min(d, 5*time.Minute)
	return d/2 + time.Duration(r.opts.Rand()*float64(d/2))
}

func idsOf(events []visitor.OutboxEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}
