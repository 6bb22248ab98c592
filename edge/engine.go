// Package edge is the kiosk engine: the local store, check-in and
// check-out with their outbox ops, the sync client and the loopback JSON
// API, wired together. The kiosk app embeds an Engine; the visitor-edge
// command runs one headless (Run). Everything a visitor does is answered
// from the local database, so the kiosk works the same online and offline.
package edge

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/edgeapi"
	"github.com/theonestack/visitor/edge/printq"
	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/edge/syncclient"
	"github.com/theonestack/visitor/syncproto"
)

// Value types of the engine's narrow API (see package edgeapi).
type (
	// CheckInRequest is a check-in at the kiosk.
	CheckInRequest = edgeapi.CheckInRequest
	// CheckOutRequest names the visit to end.
	CheckOutRequest = edgeapi.CheckOutRequest
	// NDASignature is an NDA signed at the kiosk (CheckInRequest.NDA).
	NDASignature = edgeapi.NDASignature
	// Status is the kiosk's pairing, connectivity and backlog.
	Status = edgeapi.Status
)

// listLimit bounds the lists the engine returns (on-site, hosts).
const (
	onSiteLimit = 1000
	hostsLimit  = 20
)

// Options are the engine's optional dependencies; the zero value works.
type Options struct {
	// Now is the device wall clock. Default time.Now.
	Now func() time.Time
	// NewID makes visit and op ids. Default uuid.NewV7.
	NewID func() (string, error)
	// Rand feeds the boot id and the backoff jitter. Default crypto/rand.
	Rand io.Reader
	// Mono gives ms since this process started. Default a monotonic clock
	// started at Open.
	Mono func() int64
	// Logger receives logs (never visitor PII). Default: discard.
	Logger *slog.Logger
	// AppVersion is reported to the cloud.
	AppVersion string
	// Sync adjusts the sync client (tests: Dial, BackoffBase, BackoffCap).
	// CloudURL, BootID, Mono, Now, Rand and Logger are filled by Open.
	Sync syncclient.Options
	// PrintBadges queues a badge for every check-in (the kiosk app sets
	// it; run the printer with RunPrinter). Print adjusts the queue; Env,
	// Now, NewID and Logger are filled by Open.
	PrintBadges bool
	Print       printq.Options
}

// Engine is the kiosk engine over one data directory. Its methods are safe
// for concurrent use. Close it when done.
type Engine struct {
	db     *store.DB
	sync   *syncclient.Client
	cfg    Config
	now    func() time.Time
	newID  func() (string, error)
	mono   func() int64
	bootID string
	log    *slog.Logger
	printq *printq.Queue // nil unless Options.PrintBadges

	// pairing runs StartPairing (pairing.go).
	pairing *pairer
}

var _ edgeapi.Service = (*Engine)(nil)

// Open opens (creating if needed) the store in cfg.DataDir and prepares the
// sync client for cfg.CloudURL. It does not touch the network: call RunSync
// to sync.
func Open(ctx context.Context, cfg Config, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewID == nil {
		opts.NewID = func() (string, error) {
			id, err := uuid.NewV7()
			if err != nil {
				return "", err
			}
			return id.String(), nil
		}
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Mono == nil {
		opts.Mono = syncproto.MonoClock(time.Now())
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	boot, err := uuid.NewRandomFromReader(opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("boot id: %w", err)
	}
	db, err := store.Open(ctx, cfg.DataDir, store.Options{Now: opts.Now, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	e := &Engine{db: db, cfg: cfg, now: opts.Now, newID: opts.NewID, mono: opts.Mono, bootID: boot.String(),
		log: opts.Logger.With("component", "edge")}
	so := opts.Sync
	so.CloudURL, so.BootID, so.Mono, so.Now, so.Logger = cfg.CloudURL, e.bootID, opts.Mono, opts.Now, opts.Logger
	if so.Rand == nil {
		so.Rand = opts.Rand
	}
	so.AppVersion = opts.AppVersion
	e.sync = syncclient.New(db, so)
	e.pairing = newPairer(e, opts.Rand)
	if opts.PrintBadges {
		po := opts.Print
		po.Env, po.Now, po.NewID = e.env, opts.Now, opts.NewID
		if po.Logger == nil {
			po.Logger = opts.Logger
		}
		if e.printq, err = printq.New(ctx, db, cfg.DataDir, po); err != nil {
			db.Close()
			return nil, fmt.Errorf("print queue: %w", err)
		}
	}
	return e, nil
}

// Close closes the store. Stop RunSync (cancel its context) first.
func (e *Engine) Close() error {
	e.pairing.stop()
	return e.db.Close()
}

// Store returns the engine's store (for the kiosk's print queue and tests).
func (e *Engine) Store() *store.DB { return e.db }

// BootID returns the id of this process run, stamped on every op.
func (e *Engine) BootID() string { return e.bootID }

// RunSync keeps the kiosk in sync with the cloud until ctx ends (see
// package syncclient). It returns ctx's error. Call it once.
func (e *Engine) RunSync(ctx context.Context) error { return e.sync.Run(ctx) }

func (e *Engine) env() store.OpEnv {
	return store.OpEnv{Now: e.now(), BootID: e.bootID, MonoMs: e.mono(), NewID: e.newID}
}

// Provision binds the kiosk to a device of a tenant's location with the
// device's private key (the pairing flow calls it once the admin approved;
// tests call it directly). The sync client starts connecting at once.
func (e *Engine) Provision(ctx context.Context, deviceID, tenantID, locationID string, priv ed25519.PrivateKey) error {
	err := e.db.Provision(ctx, store.Identity{DeviceID: deviceID, TenantID: tenantID, LocationID: locationID, Key: priv})
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	e.sync.Notify()
	return nil
}

const (
	maxCodeLen = 64
	// maxSignatureBytes bounds an NDA signature PNG (a 600×180 stroke
	// image is a few KiB).
	maxSignatureBytes = 512 << 10
)

// CheckIn implements edgeapi.Service: it validates the request, then
// writes the visit, its visit.check_in op and any badge assignment with
// its badge.assign op in one transaction, with gapless sequence numbers.
// A signed NDA (req.NDA) is stored on the visit and carried on the
// check-in op in that same transaction, with an audit op.
func (e *Engine) CheckIn(ctx context.Context, req CheckInRequest) (visitor.Visit, error) {
	p := visitor.Person{Name: req.Name, Email: req.Email, Company: req.Company, Phone: req.Phone}.Normalize()
	in := store.NewCheckIn{
		Visitor: p, HostID: strings.TrimSpace(req.HostID), VisitorType: strings.ToLower(strings.TrimSpace(req.VisitorType)),
		InviteCode: strings.TrimSpace(req.InviteCode), BadgeNumber: strings.TrimSpace(req.BadgeNumber),
		Offline: !e.sync.Online(),
	}
	switch {
	case in.InviteCode == "" && p.Name == "":
		return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "name or invite_code is required")
	case in.InviteCode == "":
		if err := p.Validate(); err != nil {
			return visitor.Visit{}, err
		}
	case len(in.InviteCode) > maxCodeLen:
		return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "invite_code is too long")
	}
	if len(in.HostID) > 100 || len(in.VisitorType) > 50 || len(in.BadgeNumber) > maxCodeLen {
		return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "host_id, visitor_type or badge_number is too long")
	}
	if req.NDA != nil {
		switch {
		case len(req.NDA.Signature) == 0:
			return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "the NDA has no signature")
		case len(req.NDA.Signature) > maxSignatureBytes:
			return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "signature image is too large")
		case len(req.NDA.Version) > 100:
			return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "nda version is too long")
		}
		in.NDA = &store.NDA{Version: strings.TrimSpace(req.NDA.Version), Signature: req.NDA.Signature}
	}
	id, err := e.newID()
	if err != nil {
		return visitor.Visit{}, fmt.Errorf("visit id: %w", err)
	}
	in.VisitID = id
	v, err := e.db.CheckIn(ctx, in, e.env())
	if err != nil {
		return visitor.Visit{}, fmt.Errorf("check in: %w", err)
	}
	e.log.Info("visitor checked in", "visit_id", v.ID, "badge", v.BadgeNumber != "")
	e.sync.Notify()
	e.queueBadge(ctx, v)
	return v, nil
}

// CheckOut implements edgeapi.Service: it ends the visit named by id or
// by the badge number worn, writing its visit.check_out op (and the badge's
// return) in one transaction. A visit already checked out is returned
// unchanged, with no new op.
func (e *Engine) CheckOut(ctx context.Context, req CheckOutRequest) (visitor.Visit, error) {
	id, badge := strings.TrimSpace(req.VisitID), strings.TrimSpace(req.BadgeNumber)
	switch {
	case id == "" && badge == "":
		return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "visit_id or badge_number is required")
	case len(id) > 100 || len(badge) > maxCodeLen:
		return visitor.Visit{}, visitor.Errorf(visitor.EINVALID, "visit_id or badge_number is too long")
	}
	v, err := e.db.CheckOut(ctx, id, badge, e.env())
	if err != nil {
		return visitor.Visit{}, fmt.Errorf("check out: %w", err)
	}
	e.log.Info("visitor checked out", "visit_id", v.ID)
	e.sync.Notify()
	return v, nil
}

// OnSite implements edgeapi.Service.
func (e *Engine) OnSite(ctx context.Context) ([]visitor.Visit, error) {
	return e.db.OnSite(ctx, "", onSiteLimit)
}

// FindOnSite implements edgeapi.Service.
func (e *Engine) FindOnSite(ctx context.Context, namePrefix string) ([]visitor.Visit, error) {
	if len(namePrefix) > 200 {
		return nil, visitor.Errorf(visitor.EINVALID, "name is too long")
	}
	return e.db.OnSite(ctx, namePrefix, onSiteLimit)
}

// Hosts implements edgeapi.Service: at most 20 hosts of this location.
func (e *Engine) Hosts(ctx context.Context, q string) ([]visitor.Host, error) {
	if len(q) > 200 {
		return nil, visitor.Errorf(visitor.EINVALID, "query is too long")
	}
	id, _, err := e.db.Identity(ctx)
	if err != nil {
		return nil, err
	}
	return e.db.Hosts(ctx, id.LocationID, q, hostsLimit)
}

// Status implements edgeapi.Service.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	id, ok, err := e.db.Identity(ctx)
	if err != nil {
		return Status{}, err
	}
	pending, rejected, err := e.db.OutboxCounts(ctx)
	if err != nil {
		return Status{}, err
	}
	last, err := e.db.LastSync(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{
		Paired: ok && id.Paired(), Revoked: ok && id.Status == store.IdentityRevoked,
		Online: e.sync.Online(), PendingOps: pending, RejectedOps: rejected,
		DeviceID: id.DeviceID, TenantID: id.TenantID, LocationID: id.LocationID,
	}
	if !last.IsZero() {
		st.LastSyncAt = &last
	}
	return st, nil
}

// ErrUsage marks a configuration error (exit status 2).
var ErrUsage = errors.New("usage")
