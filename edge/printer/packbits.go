package printer

import "errors"

// PackBits compresses src with the PackBits run-length scheme (Apple; TIFF
// compression 32773), which Brother QL printers accept for raster lines
// after "M 02". Runs of 2–128 equal bytes become (1−n, byte); other bytes go
// in literal groups of up to 128 as (n−1, bytes…). Output depends only on src.
func PackBits(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(src)/128+1)
	for i := 0; i < len(src); {
		run := 1
		for i+run < len(src) && run < 128 && src[i+run] == src[i] {
			run++
		}
		if run >= 2 {
			out = append(out, byte(1-run), src[i])
			i += run
			continue
		}
		// Literal: extend until the next run of at least two, or 128 bytes.
		start := i
		i++
		for i < len(src) && i-start < 128 && !(i+1 < len(src) && src[i] == src[i+1]) {
			i++
		}
		out = append(out, byte(i-start-1))
		out = append(out, src[start:i]...)
	}
	return out
}

// UnpackBits reverses PackBits. It fails on truncated input and when the
// output would exceed limit bytes (a guard against hostile data); the
// no-operation header 0x80 is skipped as the format specifies.
func UnpackBits(src []byte, limit int) ([]byte, error) {
	var out []byte
	for i := 0; i < len(src); {
		h := int8(src[i])
		i++
		switch {
		case h >= 0:
			n := int(h) + 1
			if i+n > len(src) {
				return nil, errors.New("packbits: literal runs past the end")
			}
			out = append(out, src[i:i+n]...)
			i += n
		case h == -128:
			// no-op
		default:
			if i >= len(src) {
				return nil, errors.New("packbits: run has no byte")
			}
			for k := 0; k < 1-int(h); k++ {
				out = append(out, src[i])
			}
			i++
		}
		if len(out) > limit {
			return nil, errors.New("packbits: output longer than the limit")
		}
	}
	return out, nil
}
