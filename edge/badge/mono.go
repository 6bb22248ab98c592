package badge

import (
	"image"
	"image/color"
)

// Bitmap is a 1-bit image for raster printers: a set bit is a black dot.
// Rows are Stride bytes, most significant bit first, padding bits zero. It
// implements image.Image (black and white gray pixels) so it can be encoded
// or compared like any image.
type Bitmap struct {
	Width, Height, Stride int
	Pix                   []byte
}

// NewBitmap returns an all-white bitmap of w × h dots.
func NewBitmap(w, h int) *Bitmap {
	stride := (w + 7) / 8
	return &Bitmap{Width: w, Height: h, Stride: stride, Pix: make([]byte, stride*h)}
}

// Black reports whether the dot at (x, y) is black; outside the bitmap is white.
func (b *Bitmap) Black(x, y int) bool {
	if x < 0 || y < 0 || x >= b.Width || y >= b.Height {
		return false
	}
	return b.Pix[y*b.Stride+x/8]&(0x80>>(x%8)) != 0
}

// SetBlack makes the dot at (x, y) black or white; outside the bitmap it does nothing.
func (b *Bitmap) SetBlack(x, y int, black bool) {
	if x < 0 || y < 0 || x >= b.Width || y >= b.Height {
		return
	}
	i, bit := y*b.Stride+x/8, byte(0x80>>(x%8))
	if black {
		b.Pix[i] |= bit
	} else {
		b.Pix[i] &^= bit
	}
}

// Row returns row y's bytes (shared with the bitmap).
func (b *Bitmap) Row(y int) []byte { return b.Pix[y*b.Stride : (y+1)*b.Stride] }

// Equal reports whether b and o have the same size and the same dots.
func (b *Bitmap) Equal(o *Bitmap) bool {
	if b.Width != o.Width || b.Height != o.Height {
		return false
	}
	for y := 0; y < b.Height; y++ {
		for x := 0; x < b.Width; x++ {
			if b.Black(x, y) != o.Black(x, y) {
				return false
			}
		}
	}
	return true
}

// ColorModel is color.GrayModel.
func (b *Bitmap) ColorModel() color.Model { return color.GrayModel }

// Bounds is (0, 0)–(Width, Height).
func (b *Bitmap) Bounds() image.Rectangle { return image.Rect(0, 0, b.Width, b.Height) }

// At returns black or white.
func (b *Bitmap) At(x, y int) color.Color {
	if b.Black(x, y) {
		return color.Gray{Y: 0}
	}
	return color.Gray{Y: 0xff}
}

// DitherMode chooses how Monochrome turns gray into black and white.
type DitherMode int

// Dither modes. Threshold keeps text and QR codes crisp and is what the
// printer drivers use for badges; FloydSteinberg suits photographs.
const (
	Threshold DitherMode = iota
	FloydSteinberg
)

// Monochrome reduces img to one bit per dot. Transparent pixels count as
// white paper; a pixel is black when its luma (Rec. 601) is below one half.
// The bitmap starts at (0, 0) whatever img's bounds. The result depends only
// on img and mode.
func Monochrome(img image.Image, mode DitherMode) *Bitmap {
	r := img.Bounds()
	bm := NewBitmap(r.Dx(), r.Dy())
	lum := func(x, y int) int {
		cr, cg, cb, ca := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
		return luma(cr, cg, cb, ca)
	}
	if rgba, ok := img.(*image.RGBA); ok {
		// What RenderImage makes: read the pixels directly rather than
		// through At, which boxes a color per dot and was most of the
		// cost of a badge on the check-in path. Same arithmetic as At.
		lum = func(x, y int) int {
			p := rgba.Pix[rgba.PixOffset(r.Min.X+x, r.Min.Y+y):]
			return luma(uint32(p[0])*0x101, uint32(p[1])*0x101, uint32(p[2])*0x101, uint32(p[3])*0x101)
		}
	}
	if rgba, ok := img.(*image.RGBA); ok && mode != FloydSteinberg {
		thresholdRGBA(rgba, bm)
		return bm
	}
	if mode != FloydSteinberg {
		for y := 0; y < bm.Height; y++ {
			for x := 0; x < bm.Width; x++ {
				if lum(x, y) < 128 {
					bm.SetBlack(x, y, true)
				}
			}
		}
		return bm
	}
	// Floyd–Steinberg with integer error in sixteenths, two rows of state.
	cur := make([]int, bm.Width+2)
	next := make([]int, bm.Width+2)
	for y := 0; y < bm.Height; y++ {
		for x := 0; x < bm.Width; x++ {
			v := lum(x, y) + cur[x+1]/16
			out := 255
			if v < 128 {
				out = 0
				bm.SetBlack(x, y, true)
			}
			e := v - out
			cur[x+2] += e * 7
			next[x] += e * 3
			next[x+1] += e * 5
			next[x+2] += e
		}
		cur, next = next, cur
		clear(next)
	}
	return bm
}

// luma composites a premultiplied 16-bit colour over white paper and
// returns its luma (Go's Rec. 601 weights), 0–255.
func luma(cr, cg, cb, ca uint32) int {
	w := 0xffff - ca
	cr, cg, cb = cr+w, cg+w, cb+w
	return int((19595*cr + 38470*cg + 7471*cb + 1<<15) >> 24)
}

// thresholdRGBA is Monochrome's Threshold mode for an RGBA image in one
// tight loop over the pixels (a badge is about a million of them).
func thresholdRGBA(img *image.RGBA, bm *Bitmap) {
	r := img.Bounds()
	for y := 0; y < bm.Height; y++ {
		px := img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y):]
		row := bm.Row(y)
		for x := 0; x < bm.Width; x++ {
			p := px[4*x : 4*x+4 : 4*x+4]
			if p[0]&p[1]&p[2]&p[3] == 0xff {
				continue // white paper, most of a badge
			}
			if luma(uint32(p[0])*0x101, uint32(p[1])*0x101, uint32(p[2])*0x101, uint32(p[3])*0x101) < 128 {
				row[x/8] |= 0x80 >> (x % 8)
			}
		}
	}
}
