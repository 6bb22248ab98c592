package pairing

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	qrcode "github.com/skip2/go-qrcode"
)

// QR code sizes in pixels (the image is square).
//
// A phone reads a QR code reliably from about ten times its printed width.
// 512 px on a typical 10–15" lobby screen (100–160 px per inch) is 8–13 cm
// wide, so it scans from about one metre. Below 256 px it would need the
// visitor's nose on the glass.
const (
	DefaultQRSize = 512
	MinQRSize     = 256
	MaxQRSize     = 4096
)

// qrLevel is the error-correction level of pairing QR codes: Q, which
// restores up to 25% of the symbol. A lobby screen is glossy: reflections of
// ceiling lights and fingerprints blot out patches of the code, which is the
// damage error correction repairs. H (30%) would need a denser symbol for the
// same URI, so smaller modules at the same pixel size and a shorter scanning
// distance; M (15%) gives up too much margin for glare. Q is the balance.
const qrLevel = qrcode.High // go-qrcode names level Q "High" (and H "Highest").

// minModulePx is the smallest module (QR "pixel") size we render. Below
// three pixels per module, screen scaling blurs modules into each other.
const minModulePx = 3

// QRCodePNG renders uri as a black-on-white PNG QR code of sizePx × sizePx
// pixels (0 means DefaultQRSize) at error-correction level Q (25%), with the
// standard four-module quiet zone. Every module is the same whole number of
// pixels, so nothing is blurred by resampling; the symbol is centred and the
// remainder is white. It refuses sizes below MinQRSize or above MaxQRSize,
// and a URI too long to draw with modules of at least three pixels.
func QRCodePNG(uri string, sizePx int) ([]byte, error) {
	if sizePx == 0 {
		sizePx = DefaultQRSize
	}
	if sizePx < MinQRSize || sizePx > MaxQRSize {
		return nil, fmt.Errorf("qr code: size %d px outside %d–%d", sizePx, MinQRSize, MaxQRSize)
	}
	if uri == "" {
		return nil, errors.New("qr code: empty uri")
	}
	q, err := qrcode.New(uri, qrLevel)
	if err != nil {
		return nil, fmt.Errorf("qr code: encode: %w", err)
	}
	bits := q.Bitmap() // includes the quiet zone
	n := len(bits)
	scale := sizePx / n
	if scale < minModulePx {
		return nil, fmt.Errorf("qr code: uri needs %d modules, too many for %d px", n, sizePx)
	}
	off := (sizePx - n*scale) / 2
	img := image.NewPaletted(image.Rect(0, 0, sizePx, sizePx), color.Palette{color.White, color.Black})
	for y, row := range bits {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := 0; dy < scale; dy++ {
				start := img.PixOffset(off+x*scale, off+y*scale+dy)
				for dx := 0; dx < scale; dx++ {
					img.Pix[start+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("qr code: png: %w", err)
	}
	return buf.Bytes(), nil
}
