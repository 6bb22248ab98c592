package syncproto

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// FuzzDecodeFrame checks that Decode never panics, fails only with a
// protocol *Error, and that whatever it accepts re-encodes to a frame that
// decodes to the same encoding (a fixed point after one round).
func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		data, err := Encode(fr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"type":"push","batch":1,"ops":[{"seq":1,"op_id":"a","kind":"k","boot_id":"b","payload":null}]}`))
	f.Add([]byte(`{"type":"changes","snapshot":true,"items":[]}`))
	f.Add([]byte(`{"type":"error","code":99}`))
	f.Add([]byte(`{"TYPE":"ping","Time_Ms":1}`))
	f.Add([]byte(`{"type":"teleport"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || (pe.Code != CodeBadFrame && pe.Code != CodeUnknownFrame) || fr != nil {
				t.Fatalf("Decode(%q) = %v, %v", data, fr, err)
			}
			return
		}
		enc, err := Encode(fr)
		if err != nil {
			t.Fatalf("accepted frame does not encode: %v (%q)", err, data)
		}
		fr2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v (%q)", err, enc)
		}
		if fr2.FrameType() != fr.FrameType() {
			t.Fatalf("type changed: %s → %s", fr.FrameType(), fr2.FrameType())
		}
		enc2, err := Encode(fr2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%q\n%q (%v)", enc, enc2, err)
		}
	})
}

// FuzzStreamReader feeds arbitrary bytes to the stream framing: it must
// never panic, never return a frame above the limit or with an error, and
// stop at the first error.
func FuzzStreamReader(f *testing.F) {
	var good bytes.Buffer
	for _, fr := range sampleFrames() {
		data, _ := Encode(fr)
		good.Write(binary.BigEndian.AppendUint32(nil, uint32(len(data))))
		good.Write(data)
	}
	f.Add(good.Bytes())
	f.Add([]byte{0, 0, 0, 5, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0})
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		st := NewStreamTransport(nopCloser{bytes.NewBuffer(data)}, limit)
		consumed := 0
		for i := 0; ; i++ {
			frame, err := st.ReadFrame(context.Background())
			if err != nil {
				if frame != nil {
					t.Fatalf("frame returned with error %v", err)
				}
				if consumed == len(data) && !errors.Is(err, io.EOF) {
					t.Fatalf("clean end reported as %v", err)
				}
				return
			}
			if len(frame) == 0 || len(frame) > limit {
				t.Fatalf("frame of %d bytes", len(frame))
			}
			consumed += 4 + len(frame)
			if consumed > len(data) || i > len(data) {
				t.Fatalf("read past the input")
			}
			Decode(frame) // must not panic
		}
	})
}
