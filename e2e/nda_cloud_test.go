package e2e

// This test applies a kiosk engine's real outbox ops with the cloud's real
// store (SQLite), in one process, to check the NDA signed at the kiosk
// reaches the cloud's visit. It lives here because package edge must not
// import the cloud, not even in its tests.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"image"
	"image/png"
	"slices"
	"testing"
	"time"

	"github.com/theonestack/visitor"
	cloudstore "github.com/theonestack/visitor/cloud/store"
	"github.com/theonestack/visitor/cloud/store/storetest"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/pairing"
	"github.com/theonestack/visitor/syncproto"
)

func TestSignedNDAReachesCloudVisit(t *testing.T) {
	ctx := context.Background()
	cloudNow := time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC)
	cloud := storetest.Open(t, storetest.SQLite, cloudstore.Options{Now: func() time.Time { return cloudNow }})
	const tenant = "org_nda"
	if err := cloud.EnsureTenant(ctx, tenant, "NDA Corp"); err != nil {
		t.Fatal(err)
	}
	admin := cloudstore.Actor{Type: cloudstore.ActorUser, ID: "u_admin"}
	loc, err := cloud.CreateLocation(ctx, tenant, visitor.Location{Name: "HQ Lobby", Timezone: "UTC"}, admin)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := pairing.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := cloud.ProvisionDevice(ctx, tenant, loc.ID, "Lobby kiosk", key.Public().(ed25519.PublicKey), admin)
	if err != nil {
		t.Fatal(err)
	}

	e, err := edge.Open(ctx, edge.Config{DataDir: t.TempDir(), CloudURL: "http://127.0.0.1:1", LocalAPIAddr: "127.0.0.1:0"},
		edge.Options{Mono: func() int64 { return 5_000 }, Now: func() time.Time { return cloudNow.Add(-time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Provision(ctx, dev.ID, tenant, loc.ID, key); err != nil {
		t.Fatal(err)
	}
	signed, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Grace Hopper", NDA: &edge.NDASignature{Version: "v3", Signature: signaturePNG(t)}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Alan Turing"})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := e.Store().OpsFrom(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The kiosk's boot read mono 6 s when the push reached the cloud.
	res, err := cloud.ApplyOps(ctx, dev, ops, syncproto.Anchor{BootID: e.BootID(), MonoMs: 6_000, ServerTime: cloudNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.LastAppliedSeq != int64(len(ops)) {
		t.Fatalf("cloud applied up to seq %d of %d", res.LastAppliedSeq, len(ops))
	}
	for _, r := range res.Results {
		if r.Status == syncproto.StatusRejected {
			t.Fatalf("op %d rejected: %s %s", r.Seq, r.Code, r.Reason)
		}
	}

	v, err := cloud.Visit(ctx, tenant, signed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.NDAVersion != "v3" || v.NDASignedAt.IsZero() || !v.NDASignedAt.Equal(v.CheckedInAt) {
		t.Errorf("cloud visit NDA %q signed at %v (checked in %v); want v3, signed at check-in", v.NDAVersion, v.NDASignedAt, v.CheckedInAt)
	}
	v, err = cloud.Visit(ctx, tenant, plain.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.NDAVersion != "" || !v.NDASignedAt.IsZero() {
		t.Errorf("a visit without an NDA shows NDA %q signed at %v in the cloud", v.NDAVersion, v.NDASignedAt)
	}
	audit, _, err := cloud.Audit(ctx, tenant, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(audit, func(r visitor.AuditRecord) bool {
		return r.Action == "kiosk.visit.nda_signed" && r.Subject == signed.ID
	}) {
		t.Errorf("cloud audit trail has no kiosk.visit.nda_signed for the visit: %+v", audit)
	}
}

// signaturePNG is a small stand-in for a finger signature.
func signaturePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 60, 18))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
