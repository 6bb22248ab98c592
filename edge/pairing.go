package edge

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge/edgeapi"
	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/pairing"
)

// MetaPairingKey is the meta row holding the seed of the key a pairing in
// progress registered with the cloud (base64). It leaves the meta table
// once the key is the identity's.
const MetaPairingKey = "pairing_key"

var _ edgeapi.Pairer = (*Engine)(nil)

// pairer runs one pairing at a time for an engine: the live code and the
// background poll for its approval.
type pairer struct {
	e      *Engine
	client *pairing.Client
	rand   io.Reader
	log    *slog.Logger

	mu     sync.Mutex
	cur    *edgeapi.PairingCode // live code, nil when none
	until  time.Time            // local monotonic end of cur's life
	ctx    context.Context      // ends the background polls (Close)
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newPairer(e *Engine, rand io.Reader) *pairer {
	ctx, cancel := context.WithCancel(context.Background())
	return &pairer{e: e, rand: rand, log: e.log.With("component", "pairing"), ctx: ctx, cancel: cancel,
		client: &pairing.Client{BaseURL: e.cfg.CloudURL, Logger: e.log, Rand: rand}}
}

// stop ends any background poll and waits for it.
func (p *pairer) stop() {
	p.cancel()
	p.wg.Wait()
}

// StartPairing implements edgeapi.Pairer. Calling it again while a code is
// live returns the same code; a paired kiosk answers already_paired (409);
// a revoked one may pair again (its old data is wiped on approval).
func (e *Engine) StartPairing(ctx context.Context) (edgeapi.PairingCode, error) {
	return e.pairing.start(ctx)
}

func (p *pairer) start(ctx context.Context) (edgeapi.PairingCode, error) {
	id, ok, err := p.e.db.Identity(ctx)
	if err != nil {
		return edgeapi.PairingCode{}, err
	}
	if ok && id.Paired() {
		return edgeapi.PairingCode{}, visitor.Errorf(edgeapi.CodeAlreadyPaired, "this kiosk is paired; unpair it from the console first")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && time.Now().Before(p.until) {
		return *p.cur, nil
	}
	if p.ctx.Err() != nil {
		return edgeapi.PairingCode{}, errors.New("pairing: engine closed")
	}
	pub, priv, err := pairing.GenerateKey(p.rand)
	if err != nil {
		return edgeapi.PairingCode{}, fmt.Errorf("pairing key: %w", err)
	}
	if err := p.e.db.Write(ctx, func(tx *sql.Tx) error {
		return store.SetMeta(ctx, tx, MetaPairingKey, base64.StdEncoding.EncodeToString(priv.Seed()))
	}); err != nil {
		return edgeapi.PairingCode{}, fmt.Errorf("store pairing key: %w", err)
	}
	code, err := p.client.RequestCode(ctx, pub, kioskName())
	if err != nil {
		p.log.Warn("pairing code request failed", "err", err)
		return edgeapi.PairingCode{}, visitor.Errorf(edgeapi.CodeCloudUnreachable, "the cloud did not give a pairing code; check the network and try again")
	}
	png, err := pairing.QRCodePNG(code.VerificationURIComplete, 0)
	if err != nil {
		return edgeapi.PairingCode{}, fmt.Errorf("pairing QR: %w", err)
	}
	life := time.Duration(code.ExpiresIn) * time.Second
	// The cloud's clock says when the code ends; the kiosk's may be wrong.
	expires := time.Unix(code.ServerTime, 0).Add(life).UTC()
	if code.ServerTime == 0 {
		expires = time.Now().Add(life).UTC()
	}
	p.cur = &edgeapi.PairingCode{UserCode: code.UserCode, VerificationURIComplete: code.VerificationURIComplete, ExpiresAt: expires, QRPNG: png}
	p.until = time.Now().Add(life)
	cur := p.cur
	p.wg.Go(func() { p.wait(priv, code, cur) })
	p.log.Info("pairing started; waiting for an admin to approve")
	return *cur, nil
}

// wait polls until the code is approved, refused or expired; on approval
// it pairs the kiosk, which starts syncing.
func (p *pairer) wait(priv ed25519.PrivateKey, code pairing.DeviceCodeResponse, cur *edgeapi.PairingCode) {
	defer func() {
		p.mu.Lock()
		if p.cur == cur {
			p.cur = nil
		}
		p.mu.Unlock()
	}()
	tok, err := p.client.WaitForApproval(p.ctx, priv, code, nil)
	switch {
	case errors.Is(err, pairing.ErrDenied):
		p.log.Warn("pairing refused by an admin")
		return
	case errors.Is(err, pairing.ErrExpired):
		p.log.Info("pairing code expired")
		return
	case err != nil:
		if p.ctx.Err() == nil {
			p.log.Warn("pairing ended", "err", err)
		}
		return
	}
	if err := p.provision(tok, priv); err != nil {
		p.log.Error("pairing approved but not recorded", "err", err)
		return
	}
	p.log.Info("kiosk paired", "device_id", tok.DeviceID, "tenant_id", tok.TenantID, "location_id", tok.LocationID)
}

func (p *pairer) provision(tok pairing.TokenResponse, priv ed25519.PrivateKey) error {
	ctx := p.ctx
	id, ok, err := p.e.db.Identity(ctx)
	if err != nil {
		return err
	}
	if ok && id.Status == store.IdentityRevoked {
		// The revoked device's ops will never be accepted: wipe them with
		// its data before taking the new identity.
		if n, err := p.e.db.Unpair(ctx); err != nil {
			return fmt.Errorf("wipe revoked pairing: %w", err)
		} else if n > 0 {
			p.log.Warn("discarded ops of the revoked pairing", "ops", n)
		}
	}
	if err := p.e.Provision(ctx, tok.DeviceID, tok.TenantID, tok.LocationID, priv); err != nil {
		return err
	}
	return p.e.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM meta WHERE key = ?`, MetaPairingKey)
		return err
	})
}

// kioskName is the display name the kiosk suggests: its host name.
func kioskName() string {
	if h, err := os.Hostname(); err == nil && h != "" && len(h) <= pairing.MaxNameLength {
		return h
	}
	return "Kiosk"
}
