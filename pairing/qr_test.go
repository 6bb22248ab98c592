package pairing_test

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/theonestack/visitor/pairing"
)

// decodeQR returns the text of the QR code in img and its error-correction level.
func decodeQR(t *testing.T, img image.Image) (text, level string) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	lvl, _ := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL].(string)
	return res.GetText(), lvl
}

func TestQRCodePNGRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		size int
	}{
		{"default size", "https://visitor.example.com/pair?code=BCDF-GHJK", 0},
		{"minimum size", "https://visitor.example.com/pair?code=BCDF-GHJK", pairing.MinQRSize},
		{"odd size", "http://localhost:8080/pair?code=WXZW-XZWX", 777},
		{"long host", "https://visitor.eu-west-1.customer-with-a-long-name.example.com/pair?code=BCDF-GHJK", 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := pairing.QRCodePNG(tt.uri, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.size
			if want == 0 {
				want = pairing.DefaultQRSize
			}
			if got := img.Bounds().Size(); got.X != want || got.Y != want {
				t.Fatalf("image is %v, want %dx%d", got, want, want)
			}
			// Corners are quiet zone: white.
			if r, g, bl, _ := img.At(0, 0).RGBA(); r != 0xffff || g != 0xffff || bl != 0xffff {
				t.Fatalf("corner pixel is not white")
			}
			got, level := decodeQR(t, img)
			if got != tt.uri {
				t.Fatalf("decoded %q, want %q", got, tt.uri)
			}
			if level != "Q" {
				t.Fatalf("error-correction level %q, want Q", level)
			}
		})
	}
}

func TestQRCodePNGRefuses(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		size int
		want string
	}{
		{"too small", "https://x.example/pair", 255, "outside"},
		{"negative", "https://x.example/pair", -5, "outside"},
		{"too large", "https://x.example/pair", pairing.MaxQRSize + 1, "outside"},
		{"empty uri", "", 512, "empty"},
		{"too dense for the size", "https://x.example/" + strings.Repeat("a", 600), 256, "too many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pairing.QRCodePNG(tt.uri, tt.size)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
