package printertest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/theonestack/visitor/edge/badge"
	"github.com/theonestack/visitor/edge/printer"
)

// brotherCommand is one command of a QL raster stream.
type brotherCommand struct {
	op  string // "invalidate", "init", "status", "mode", "info", "various", "cut-every", "expanded", "margin", "notify", "compression", "raster", "zero", "print", "print-last"
	arg []byte
}

// maxRasterStream bounds how much a fake or decoder reads of one job.
const maxRasterStream = 4 << 20

// readBrotherCommand reads the next command. NUL bytes (invalidate) are
// returned one at a time.
func readBrotherCommand(r *bufio.Reader) (brotherCommand, error) {
	b, err := r.ReadByte()
	if err != nil {
		return brotherCommand{}, err
	}
	fixed := func(op string, n int) (brotherCommand, error) {
		arg := make([]byte, n)
		if _, err := io.ReadFull(r, arg); err != nil {
			return brotherCommand{}, fmt.Errorf("%s: %w", op, unexpected(err))
		}
		return brotherCommand{op: op, arg: arg}, nil
	}
	switch b {
	case 0x00:
		return brotherCommand{op: "invalidate"}, nil
	case 0x0C:
		return brotherCommand{op: "print"}, nil
	case 0x1A:
		return brotherCommand{op: "print-last"}, nil
	case 'Z':
		return brotherCommand{op: "zero"}, nil
	case 'M':
		return fixed("compression", 1)
	case 'g':
		head := make([]byte, 2)
		if _, err := io.ReadFull(r, head); err != nil {
			return brotherCommand{}, fmt.Errorf("raster: %w", unexpected(err))
		}
		if head[0] != 0x00 {
			return brotherCommand{}, fmt.Errorf("raster command g %02X: want g 00 n", head[0])
		}
		return fixed("raster", int(head[1]))
	case 0x1B:
		c, err := r.ReadByte()
		if err != nil {
			return brotherCommand{}, unexpected(err)
		}
		if c == '@' {
			return brotherCommand{op: "init"}, nil
		}
		if c != 'i' {
			return brotherCommand{}, fmt.Errorf("unknown command ESC %02X", c)
		}
		d, err := r.ReadByte()
		if err != nil {
			return brotherCommand{}, unexpected(err)
		}
		switch d {
		case 'S':
			return brotherCommand{op: "status"}, nil
		case 'a':
			return fixed("mode", 1)
		case 'z':
			return fixed("info", 10)
		case 'M':
			return fixed("various", 1)
		case 'A':
			return fixed("cut-every", 1)
		case 'K':
			return fixed("expanded", 1)
		case 'd':
			return fixed("margin", 2)
		case '!':
			return fixed("notify", 1)
		}
		return brotherCommand{}, fmt.Errorf("unknown command ESC i %02X", d)
	}
	return brotherCommand{}, fmt.Errorf("unknown command byte %02X", b)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// DecodeBrotherRaster returns the first page of a QL raster job (as made by
// printer.EncodeBrotherRaster, possibly preceded by a status request) as a
// 696-dot-wide bitmap: pins 12–707 of each 90-byte line, un-mirrored. It
// fails on unknown commands, lines of the wrong length, set pins outside
// the printable area, a line count different from the one ESC i z
// announced, and a stream without a print command.
func DecodeBrotherRaster(job []byte) (*badge.Bitmap, error) {
	if len(job) > maxRasterStream {
		return nil, errors.New("raster job too large")
	}
	r := bufio.NewReader(bytes.NewReader(job))
	var lines [][]byte
	compressed, announced := false, -1
	for {
		cmd, err := readBrotherCommand(r)
		if err == io.EOF {
			return nil, errors.New("raster job has no print command")
		}
		if err != nil {
			return nil, err
		}
		switch cmd.op {
		case "init":
			lines, compressed, announced = nil, false, -1
		case "info":
			announced = int(binary.LittleEndian.Uint32(cmd.arg[4:8]))
		case "compression":
			switch cmd.arg[0] {
			case 0x00:
				compressed = false
			case 0x02:
				compressed = true
			default:
				return nil, fmt.Errorf("compression mode %02X", cmd.arg[0])
			}
		case "zero":
			lines = append(lines, make([]byte, printer.BrotherLineBytes))
		case "raster":
			line := cmd.arg
			if compressed {
				if line, err = printer.UnpackBits(cmd.arg, printer.BrotherLineBytes); err != nil {
					return nil, fmt.Errorf("raster line %d: %w", len(lines), err)
				}
			}
			if len(line) != printer.BrotherLineBytes {
				return nil, fmt.Errorf("raster line %d is %d bytes, want %d", len(lines), len(line), printer.BrotherLineBytes)
			}
			lines = append(lines, line)
		case "print", "print-last":
			if announced >= 0 && announced != len(lines) {
				return nil, fmt.Errorf("job announced %d raster lines and sent %d", announced, len(lines))
			}
			return linesToBitmap(lines)
		}
	}
}

func linesToBitmap(lines [][]byte) (*badge.Bitmap, error) {
	w := printer.BrotherPrintableDots
	bm := badge.NewBitmap(w, len(lines))
	lo, hi := printer.BrotherLeftPins, printer.BrotherLeftPins+w-1
	for y, line := range lines {
		for p := 0; p < printer.BrotherLineBytes*8; p++ {
			if line[p/8]&(0x80>>(p%8)) == 0 {
				continue
			}
			if p < lo || p > hi {
				return nil, fmt.Errorf("raster line %d sets pin %d outside the printable pins %d–%d", y, p, lo, hi)
			}
			bm.SetBlack(hi-p, y, true)
		}
	}
	return bm, nil
}

// DecodeZPLGraphic returns the first label of zpl as a bitmap: a canvas of
// ^PW × ^LL dots (the graphic's own size when they are missing) with the
// first ^GFA graphic field drawn at its ^FO origin. Only uncompressed
// ASCII-hex graphics are read, as badge.EncodeZPL writes them; the byte
// counts must agree with the data.
func DecodeZPLGraphic(zpl []byte) (*badge.Bitmap, error) {
	s := string(zpl)
	start := strings.Index(s, "^XA")
	if start < 0 {
		return nil, errors.New("no ^XA")
	}
	s = s[start:]
	if end := strings.Index(s, "^XZ"); end >= 0 {
		s = s[:end]
	} else {
		return nil, errors.New("no ^XZ")
	}
	pw, ll := 0, 0
	if v, ok := zplInts(s, "^PW", 1); ok {
		pw = v[0]
	}
	if v, ok := zplInts(s, "^LL", 1); ok {
		ll = v[0]
	}
	g := strings.Index(s, "^GFA,")
	if g < 0 {
		return nil, errors.New("no ^GFA graphic field")
	}
	ox, oy := 0, 0
	if fo, ok := zplInts(s[:g], "^FO", 2); ok {
		ox, oy = fo[0], fo[1]
	}
	params, data, ok := cutN(s[g+len("^GFA,"):], ",", 3)
	if !ok {
		return nil, errors.New("^GFA needs byte count, field count, bytes per row and data")
	}
	var n [3]int
	for i, p := range params {
		v, err := strconv.Atoi(p)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("^GFA parameter %d is %q", i+1, p)
		}
		n[i] = v
	}
	total, fieldCount, perRow := n[0], n[1], n[2]
	if total != fieldCount || total%perRow != 0 {
		return nil, fmt.Errorf("^GFA counts %d,%d,%d do not agree", total, fieldCount, perRow)
	}
	if end := strings.IndexAny(data, "^~"); end >= 0 {
		data = data[:end]
	}
	hexdata := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		if c := data[i]; c != '\n' && c != '\r' && c != ' ' {
			hexdata = append(hexdata, c)
		}
	}
	if len(hexdata) != 2*total {
		return nil, fmt.Errorf("^GFA has %d hex digits, want %d", len(hexdata), 2*total)
	}
	raw := make([]byte, total)
	if _, err := hex.Decode(raw, hexdata); err != nil {
		return nil, fmt.Errorf("^GFA data: %w", err)
	}
	gw, gh := perRow*8, total/perRow
	if pw <= 0 {
		pw = ox + gw
	}
	if ll <= 0 {
		ll = oy + gh
	}
	if pw > 10000 || ll > 100000 {
		return nil, errors.New("label too large")
	}
	bm := badge.NewBitmap(pw, ll)
	for y := 0; y < gh; y++ {
		for x := 0; x < gw; x++ {
			if raw[y*perRow+x/8]&(0x80>>(x%8)) != 0 {
				bm.SetBlack(ox+x, oy+y, true)
			}
		}
	}
	return bm, nil
}

// zplInts reads n comma-separated integers after the first cmd in s.
func zplInts(s, cmd string, n int) ([]int, bool) {
	i := strings.Index(s, cmd)
	if i < 0 {
		return nil, false
	}
	rest := s[i+len(cmd):]
	if end := strings.IndexAny(rest, "^~\n"); end >= 0 {
		rest = rest[:end]
	}
	parts := strings.Split(rest, ",")
	if len(parts) < n {
		return nil, false
	}
	out := make([]int, n)
	for k := 0; k < n; k++ {
		v, err := strconv.Atoi(strings.TrimSpace(parts[k]))
		if err != nil || v < 0 {
			return nil, false
		}
		out[k] = v
	}
	return out, true
}

// cutN splits off n sep-separated fields and returns them and the rest.
func cutN(s, sep string, n int) ([]string, string, bool) {
	var out []string
	for range n {
		before, after, ok := strings.Cut(s, sep)
		if !ok {
			return nil, "", false
		}
		out = append(out, before)
		s = after
	}
	return out, s, true
}
