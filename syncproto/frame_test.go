package syncproto

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func i64(v int64) *int64 { return &v }

// sampleFrames returns one fully populated frame of every type, in a fixed
// order. The golden files are their encodings.
func sampleFrames() []Frame {
	nonce := bytes.Repeat([]byte{0xA5}, NonceSize)
	return []Frame{
		&Challenge{Nonce: nonce, ServerTimeMs: 1767225600000, Versions: []int{1}},
		&Hello{
			Versions: []int{1}, DeviceID: "dev_01", Proof: []byte("signature-bytes"),
			ClientTimeMs: 5000, BootID: "boot-7f3a", MonoMs: 4200, LastAckedSeq: 41,
			Cursor: "c:120", AppVersion: "1.4.0",
		},
		&Welcome{
			Version: 1, ClientTimeMs: 5000, ReceivedMs: 1767225600100, ServerTimeMs: 1767225600101,
			DeviceID: "dev_01", TenantID: "org_1", LocationID: "loc_1", LastAppliedSeq: 42, HeartbeatMs: 15000,
		},
		&Push{Batch: 1, MonoMs: 9000, Ops: []Op{
			{Seq: 43, OpID: "0196f7a2-0000-7000-8000-000000000043", Kind: KindVisitCheckIn, TimeMs: 8000,
				BootID: "boot-7f3a", MonoMs: 7200, Payload: json.RawMessage(`{"visit_id":"v1"}`)},
			{Seq: 44, OpID: "0196f7a2-0000-7000-8000-000000000044", Kind: KindVisitCheckOut, TimeMs: 1767000000000,
				BootID: "boot-0001", MonoMs: 100, OffsetMs: i64(-3600000), Payload: json.RawMessage(`{"visit_id":"v0"}`)},
		}},
		&Ack{Batch: 1, UpToSeq: 44, Results: []OpResult{
			{Seq: 43, OpID: "0196f7a2-0000-7000-8000-000000000043", Status: StatusDuplicate},
			{Seq: 44, OpID: "0196f7a2-0000-7000-8000-000000000044", Status: StatusRejected, Code: "invalid", Reason: "visit v0 is unknown"},
		}},
		&Changes{FromCursor: "c:120", Cursor: "c:122", More: true, Items: []Change{
			{Entity: EntityHost, ID: "h1", Op: ChangeUpsert, Data: json.RawMessage(`{"name":"Ada"}`)},
			{Entity: EntityPreregistration, ID: "p9", Op: ChangeDelete},
		}},
		&ChangesAck{Cursor: "c:122"},
		&SnapshotBegin{Entities: []string{EntityHost, EntityBadge}},
		&SnapshotEnd{Cursor: "c:200"},
		&Ping{TimeMs: 1767225600200},
		&Pong{PingTimeMs: 1767225600200, ReceivedMs: 1767225600230, TimeMs: 1767225600231},
		NewError(CodeOverloaded, "try later").Frame(),
		&Bye{Reason: ByeRevoked, Message: "revoked by admin"},
	}
}

func TestSampleFramesCoverEveryType(t *testing.T) {
	seen := map[FrameType]bool{}
	for _, f := range sampleFrames() {
		seen[f.FrameType()] = true
	}
	all := []FrameType{TypeChallenge, TypeHello, TypeWelcome, TypePush, TypeAck, TypeChanges, TypeChangesAck,
		TypeSnapshotBegin, TypeSnapshotEnd, TypePing, TypePong, TypeError, TypeBye}
	for _, ty := range all {
		if !seen[ty] {
			t.Errorf("no sample of %s", ty)
		}
		if newFrame(ty) == nil {
			t.Errorf("newFrame(%s) = nil", ty)
		}
	}
	if len(seen) != len(all) {
		t.Errorf("%d sample types, %d known types", len(seen), len(all))
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range sampleFrames() {
		t.Run(string(f.FrameType()), func(t *testing.T) {
			data, err := Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte(`{"type":"`+string(f.FrameType())+`"`)) {
				t.Errorf("encoding does not start with its type: %s", data)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, f) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, f)
			}
		})
	}
}

// TestGolden pins the wire encoding: a change here is a protocol change.
func TestGolden(t *testing.T) {
	var stream bytes.Buffer
	for _, f := range sampleFrames() {
		data, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, string(f.FrameType())+".json", append(data, '\n'))
		st := NewStreamTransport(nopCloser{&stream}, 0)
		if err := st.WriteFrame(context.Background(), data); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "session.stream", stream.Bytes())

	// The golden stream decodes back to the samples.
	raw, err := os.ReadFile(filepath.Join("testdata", "golden", "session.stream"))
	if err != nil {
		t.Fatal(err)
	}
	st := NewStreamTransport(nopCloser{bytes.NewBuffer(raw)}, 0)
	for i, want := range sampleFrames() {
		data, err := st.ReadFrame(context.Background())
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("frame %d: got %#v, want %#v", i, got, want)
		}
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n got %q\nwant %q", name, got, want)
	}
}

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code Code
	}{
		{"empty", ``, CodeBadFrame},
		{"not json", `hello`, CodeBadFrame},
		{"array", `[1,2]`, CodeBadFrame},
		{"null", `null`, CodeBadFrame},
		{"no type", `{"cursor":"c"}`, CodeBadFrame},
		{"empty type", `{"type":""}`, CodeBadFrame},
		{"type not a string", `{"type":7}`, CodeBadFrame},
		{"unknown type", `{"type":"teleport"}`, CodeUnknownFrame},
		{"truncated", `{"type":"ping","time_ms":1`, CodeBadFrame},
		{"trailing garbage", `{"type":"ping"} {}`, CodeBadFrame},
		{"wrong field type", `{"type":"ping","time_ms":"soon"}`, CodeBadFrame},
		{"float seq", `{"type":"push","batch":1,"mono_ms":1,"ops":[{"seq":1.5,"op_id":"a","kind":"audit","boot_id":"b"}]}`, CodeBadFrame},
		{"push without ops", `{"type":"push","batch":1,"mono_ms":1,"ops":[]}`, CodeBadFrame},
		{"push with seq gap inside", `{"type":"push","batch":1,"ops":[{"seq":1,"op_id":"a","kind":"k","boot_id":"b"},{"seq":3,"op_id":"c","kind":"k","boot_id":"b"}]}`, CodeBadFrame},
		{"push seq zero", `{"type":"push","batch":1,"ops":[{"seq":0,"op_id":"a","kind":"k","boot_id":"b"}]}`, CodeBadFrame},
		{"push no op_id", `{"type":"push","batch":1,"ops":[{"seq":1,"kind":"k","boot_id":"b"}]}`, CodeBadFrame},
		{"ack bad status", `{"type":"ack","batch":1,"up_to_seq":3,"results":[{"seq":3,"status":"maybe"}]}`, CodeBadFrame},
		{"ack expected not next", `{"type":"ack","batch":1,"up_to_seq":3,"expected_seq":7}`, CodeBadFrame},
		{"changes bad op", `{"type":"changes","cursor":"c","items":[{"entity":"host","id":"h","op":"merge"}]}`, CodeBadFrame},
		{"snapshot delete", `{"type":"changes","snapshot":true,"items":[{"entity":"host","id":"h","op":"delete"}]}`, CodeBadFrame},
		{"changes without cursor", `{"type":"changes","items":[]}`, CodeBadFrame},
		{"challenge short nonce", `{"type":"challenge","nonce":"AAAA","versions":[1]}`, CodeBadFrame},
		{"hello without proof", `{"type":"hello","versions":[1],"device_id":"d","boot_id":"b"}`, CodeBadFrame},
		{"error code zero", `{"type":"error","code":0,"name":"x"}`, CodeBadFrame},
		{"bye without reason", `{"type":"bye"}`, CodeBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode(%q) = %#v, want error", tt.in, f)
			}
			if f != nil {
				t.Errorf("Decode returned a frame with its error: %#v", f)
			}
			if got := CodeOf(err); got != tt.code {
				t.Errorf("code = %v, want %v (%v)", got, tt.code, err)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	f, err := Decode([]byte(`{"type":"changes_ack","cursor":"c:9","future_field":{"x":[1,2]},"zz":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f, (&ChangesAck{Cursor: "c:9"}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	// An error frame with a code this version does not know still decodes.
	f, err = Decode([]byte(`{"type":"error","code":99,"name":"from_the_future","retryable":false}`))
	if err != nil {
		t.Fatal(err)
	}
	e := f.(*ErrorFrame).Err()
	if e.Code != 99 || e.Retryable || e.Code.Known() || e.Code.String() != "code_99" {
		t.Errorf("unexpected %+v (%s)", e, e.Code)
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	bad := []Frame{
		nil,
		&Push{Batch: 1},
		&Challenge{Nonce: []byte("short"), Versions: []int{1}},
		&Bye{},
		&Push{Batch: 1, Ops: []Op{{Seq: 1, OpID: "a", Kind: "k", BootID: "b", Payload: json.RawMessage(`"` + strings.Repeat("x", MaxOpPayload) + `"`)}}},
	}
	for i, f := range bad {
		if data, err := Encode(f); err == nil {
			t.Errorf("%d: Encode(%T) = %q, want error", i, f, data)
		}
	}
}
