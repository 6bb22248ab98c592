package badge

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"

	"github.com/signintech/gopdf"
	visitor "github.com/theonestack/visitor"
)

const pointsPerMM = 72 / 25.4

// RenderPNG renders the badge (see RenderImage) and encodes it as PNG.
func RenderPNG(d Data, t Template, s Size) ([]byte, error) {
	img, err := RenderImage(d, t, s)
	if err != nil {
		return nil, err
	}
	return EncodePNG(img)
}

// EncodePNG encodes img as PNG, favouring speed (badges are mostly white and
// compress well anyway). The same image always gives the same bytes.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode badge PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// RenderPDF renders the badge (see RenderImage) as a one-page PDF whose page
// is the label's physical size, for printing through CUPS to any printer.
func RenderPDF(d Data, t Template, s Size) ([]byte, error) {
	img, err := RenderImage(d, t, s)
	if err != nil {
		return nil, err
	}
	return EncodePDF(img, s)
}

// EncodePDF returns a one-page PDF of size s (in points, from the label's
// millimetres) with img stretched over the whole page at the printer's
// resolution. The PDF carries no creation date, so the same image gives the
// same bytes.
func EncodePDF(img image.Image, s Size) ([]byte, error) {
	wmm, hmm := s.MM()
	if !s.Valid() {
		return nil, visitor.Errorf(visitor.EINVALID, "unknown label size %q", string(s))
	}
	pngBytes, err := EncodePNG(img)
	if err != nil {
		return nil, err
	}
	page := gopdf.Rect{W: wmm * pointsPerMM, H: hmm * pointsPerMM}
	var pdf gopdf.GoPdf
	pdf.Start(gopdf.Config{Unit: gopdf.UnitPT, PageSize: page})
	pdf.AddPage()
	holder, err := gopdf.ImageHolderByBytes(pngBytes)
	if err != nil {
		return nil, fmt.Errorf("badge PDF image: %w", err)
	}
	if err := pdf.ImageByHolder(holder, 0, 0, &page); err != nil {
		return nil, fmt.Errorf("badge PDF image: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Write(&buf); err != nil {
		return nil, fmt.Errorf("write badge PDF: %w", err)
	}
	return buf.Bytes(), nil
}

// RenderZPL renders the badge (see RenderImage), reduces it with Threshold
// and returns it as a ZPL II label (see EncodeZPL).
func RenderZPL(d Data, t Template, s Size) ([]byte, error) {
	img, err := RenderImage(d, t, s)
	if err != nil {
		return nil, err
	}
	return EncodeZPL(Monochrome(img, Threshold)), nil
}

// EncodeZPL returns one ZPL II label holding bm as a graphic field:
//
//	^XA
//	^PW<width>
//	^LL<height>
//	^LH0,0
//	^FO0,0^GFA,<bytes>,<bytes>,<bytes per row>,<HEX>^FS
//	^PQ1
//	^XZ
//
// The graphic is uncompressed upper-case hexadecimal, one bit per dot, set =
// black, rows of (width+7)/8 bytes: what every ZPL II printer accepts. The
// printer's resolution must match the bitmap's (203 dpi for Label4x3in).
func EncodeZPL(bm *Bitmap) []byte {
	total := bm.Stride * bm.Height
	var buf bytes.Buffer
	buf.Grow(2*total + 128)
	fmt.Fprintf(&buf, "^XA\n^PW%d\n^LL%d\n^LH0,0\n^FO0,0^GFA,%d,%d,%d,", bm.Width, bm.Height, total, total, bm.Stride)
	enc := make([]byte, 2*bm.Stride)
	for y := 0; y < bm.Height; y++ {
		hex.Encode(enc, bm.Row(y))
		buf.Write(bytes.ToUpper(enc))
	}
	buf.WriteString("^FS\n^PQ1\n^XZ\n")
	return buf.Bytes()
}
