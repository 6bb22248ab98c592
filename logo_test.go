package visitor

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestValidateLogo(t *testing.T) {
	if err := ValidateLogo(pngOf(t, 120, 40)); err != nil {
		t.Fatalf("a small PNG: %v", err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not image": []byte("<svg></svg>"),
		"too wide":  pngOf(t, MaxLogoSide+1, 1),
		"too big":   append(pngOf(t, 1, 1), make([]byte, MaxLogoBytes)...),
	} {
		if err := ValidateLogo(b); ErrorCode(err) != EINVALID {
			t.Errorf("%s: got %v, want EINVALID", name, err)
		}
	}
}
