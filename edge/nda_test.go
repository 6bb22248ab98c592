package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/theonestack/visitor"
	"github.com/theonestack/visitor/edge"
	"github.com/theonestack/visitor/edge/edgeapi"
	"github.com/theonestack/visitor/edge/store"
	"github.com/theonestack/visitor/syncproto"
)

// testPNG is a small w×h PNG (a signature or a logo).
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.SetGray(1, 1, color.Gray{Y: 0})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCheckInCarriesSignedNDA(t *testing.T) {
	ctx := context.Background()
	sig := testPNG(t, 60, 18)
	tests := []struct {
		name      string
		nda       *edgeapi.NDASignature
		wantErr   string
		wantKinds []string // outbox kinds after the check-in
	}{
		{"no NDA", nil, "", []string{syncproto.KindVisitCheckIn}},
		{"signed NDA", &edgeapi.NDASignature{Version: "v3", Signature: sig}, "",
			[]string{syncproto.KindVisitCheckIn, syncproto.KindAudit}},
		{"NDA without a version", &edgeapi.NDASignature{Signature: sig}, "",
			[]string{syncproto.KindVisitCheckIn, syncproto.KindAudit}},
		{"NDA without a signature", &edgeapi.NDASignature{Version: "v3"}, visitor.EINVALID, nil},
		{"signature too large", &edgeapi.NDASignature{Version: "v3", Signature: make([]byte, 512<<10+1)}, visitor.EINVALID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := openEngine(t, t.TempDir(), "", edge.Options{})
			defer e.Close()
			provision(t, e)
			v, err := e.CheckIn(ctx, edge.CheckInRequest{Name: "Grace Hopper", NDA: tt.nda})
			if tt.wantErr != "" {
				if visitor.ErrorCode(err) != tt.wantErr {
					t.Fatalf("err %v, want %s", err, tt.wantErr)
				}
				if n := len(outbox(t, e.Store())); n != 0 {
					t.Errorf("a refused check-in left %d outbox ops", n)
				}
				if n := count(t, e.Store(), `SELECT count(*) FROM visits`); n != 0 {
					t.Errorf("a refused check-in left %d visits", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rows := outbox(t, e.Store())
			checkGapless(t, rows, len(tt.wantKinds))
			for i, k := range tt.wantKinds {
				if rows[i].Kind != k {
					t.Errorf("op %d is %s, want %s", i+1, rows[i].Kind, k)
				}
			}
			var p syncproto.CheckInPayload
			if err := json.Unmarshal([]byte(rows[0].Payload), &p); err != nil {
				t.Fatal(err)
			}
			ver, at, signed, err := e.Store().NDA(ctx, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			var stored []byte
			if err := e.Store().Read().QueryRow(`SELECT nda_signature FROM visits WHERE id = ?`, v.ID).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if tt.nda == nil {
				if p.NDASigned || p.NDAVersion != "" || signed || !at.IsZero() || ver != "" || stored != nil {
					t.Errorf("no NDA, yet payload %+v, visit NDA %q %v %v", p, ver, at, signed)
				}
				return
			}
			if !p.NDASigned || p.NDAVersion != tt.nda.Version || p.VisitID != v.ID {
				t.Errorf("check-in payload NDA = %q signed=%v, want %q signed", p.NDAVersion, p.NDASigned, tt.nda.Version)
			}
			if ver != tt.nda.Version || !signed || !at.Equal(v.CheckedInAt) {
				t.Errorf("visit NDA %q at %v signed=%v; want %q at the check-in time %v", ver, at, signed, tt.nda.Version, v.CheckedInAt)
			}
			if !bytes.Equal(stored, tt.nda.Signature) {
				t.Errorf("stored signature is %d bytes, want the %d signed", len(stored), len(tt.nda.Signature))
			}
			var audit syncproto.AuditPayload
			if err := json.Unmarshal([]byte(rows[1].Payload), &audit); err != nil {
				t.Fatal(err)
			}
			if audit.Action != store.AuditNDASigned || audit.Subject != v.ID || bytes.Contains(audit.Details, []byte("Grace")) {
				t.Errorf("audit op %+v; want %s on the visit, with no PII", audit, store.AuditNDASigned)
			}
		})
	}
}

func TestSettingsLogoSurvivesDownFeed(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, t.TempDir(), "", edge.Options{})
	defer e.Close()
	provision(t, e)
	logo := testPNG(t, 120, 40)
	if err := visitor.ValidateLogo(logo); err != nil {
		t.Fatalf("test logo is not valid: %v", err)
	}
	withLogo := visitor.TenantSettings{NDAEnabled: true, NDAText: "Keep it secret.", NDAVersion: "v2", Logo: logo}
	checkLogo := func(step string, want []byte) {
		t.Helper()
		s, err := e.Settings(ctx)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if !bytes.Equal(s.Logo, want) {
			t.Errorf("%s: logo is %d bytes, want %d", step, len(s.Logo), len(want))
		}
		if want != nil && (s.NDAVersion != "v2" || !s.NDAEnabled) {
			t.Errorf("%s: settings %+v lost their other fields", step, s)
		}
	}
	checkLogo("before any settings", nil)
	// A live change, as the cloud sends it (the settings as JSON).
	feed(t, e, "c1", upsert(t, syncproto.EntitySettings, testTenant, withLogo))
	checkLogo("live change", logo)
	// A change without the logo removes it.
	feed(t, e, "c2", upsert(t, syncproto.EntitySettings, testTenant, visitor.TenantSettings{NDAVersion: "v2"}))
	checkLogo("logo removed", nil)
	// A snapshot carries it too.
	db := e.Store()
	if err := db.ClearStaging(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.StageSnapshot(ctx, []syncproto.Change{upsert(t, syncproto.EntitySettings, testTenant, withLogo)}); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishSnapshot(ctx, []string{syncproto.EntitySettings}, "s1"); err != nil {
		t.Fatal(err)
	}
	checkLogo("snapshot", logo)
}
