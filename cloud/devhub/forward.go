package devhub

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/theonestack/visitor"
)

// Subscriber is a URL the Bus forwards new events to, with its delivery
// counters.
type Subscriber struct {
	URL       string `json:"url"`
	Delivered int    `json:"delivered"`
	Failed    int    `json:"failed"` // events given up on after every attempt
	LastError string `json:"last_error,omitempty"`
}

// forwardJob is one event bound for one subscriber.
type forwardJob struct {
	url  string
	id   string
	body []byte
}

// AddSubscriber adds an http(s) URL that receives every event first
// received from now on (no backlog). Adding a URL twice is a no-op.
func (h *Hub) AddSubscriber(u string) error {
	if err := checkBaseURL(u); err != nil {
		return visitor.Errorf(visitor.EINVALID, "subscriber url: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.subscribers {
		if s.URL == u {
			return nil
		}
	}
	h.subscribers = append(h.subscribers, &Subscriber{URL: u})
	return nil
}

// Subscribers returns a snapshot of the subscribers and their counters.
func (h *Hub) Subscribers() []Subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Subscriber, len(h.subscribers))
	for i, s := range h.subscribers {
		out[i] = *s
	}
	return out
}

// enqueueForwards queues jobs without blocking the Bus request; a full
// queue drops the job and counts it.
func (h *Hub) enqueueForwards(jobs []forwardJob) {
	for _, j := range jobs {
		select {
		case h.forwardQueue <- j:
		default:
			h.mu.Lock()
			h.busStats.ForwardDropped++
			h.mu.Unlock()
			h.log.Warn("forward queue full, event dropped", "event_id", j.id)
		}
	}
}

// forwardLoop delivers queued jobs one at a time (so each subscriber sees
// events in arrival order) until Close.
func (h *Hub) forwardLoop() {
	defer close(h.forwardDone)
	for {
		select {
		case <-h.forwardCtx.Done():
			return
		case j := <-h.forwardQueue:
			err := h.forward(h.forwardCtx, j)
			h.mu.Lock()
			for _, s := range h.subscribers {
				if s.URL != j.url {
					continue
				}
				if err != nil {
					s.Failed++
					s.LastError = err.Error()
				} else {
					s.Delivered++
				}
			}
			h.mu.Unlock()
			if err != nil && h.forwardCtx.Err() == nil {
				h.log.Warn("forward failed", "event_id", j.id, "subscriber", j.url, "err", err)
			}
		}
	}
}

// forward posts one structured CloudEvent, retrying network errors, 408,
// 429 and 5xx up to Options.ForwardAttempts times with doubling backoff.
func (h *Hub) forward(ctx context.Context, j forwardJob) error {
	backoff := h.opts.ForwardBackoff
	var lastErr error
	for attempt := 1; attempt <= h.opts.ForwardAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			backoff *= 2
		}
		retry, err := h.forwardOnce(ctx, j)
		if err == nil {
			return nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return lastErr
}

func (h *Hub) forwardOnce(ctx context.Context, j forwardJob) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(j.body))
	if err != nil {
		return false, fmt.Errorf("forward request: %w", err)
	}
	req.Header.Set("Content-Type", ContentTypeSingle)
	if h.cfg.VisitorIntegrationKey != "" {
		req.Header.Set("X-Integration-Key", h.cfg.VisitorIntegrationKey)
	}
	resp, err := h.opts.HTTPClient.Do(req)
	if err != nil {
		return true, fmt.Errorf("forward: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	s := resp.StatusCode
	return s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500,
		fmt.Errorf("forward: subscriber answered %s", resp.Status)
}
