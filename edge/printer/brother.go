package printer

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/theonestack/visitor/edge/badge"
)

// Brother QL-800 series raster geometry (QL-800/810W/820NWB, 300 dpi).
const (
	// BrotherLineBytes is the length of one raster line: 720 head pins.
	BrotherLineBytes = 90
	// BrotherPrintableDots is the printable width of 62 mm stock.
	BrotherPrintableDots = 696
	// BrotherLeftPins is how many pins precede the 62 mm printable area
	// in a raster line; 720 − 696 − 12 = 12 follow it. Brother's tables
	// give 12 dots of right margin for 62 mm stock; the line is sent
	// mirrored (its first byte is the label's right edge as it leaves the
	// printer), which is why the image's column x goes to pin 707 − x.
	BrotherLeftPins = 12
	// BrotherDieCut62x100Lines is the printable length of DK-11202 labels.
	BrotherDieCut62x100Lines = 1109
	// brotherInvalidate is the number of NUL bytes sent first to end any
	// half-received job. The QL-800 series reference asks for 400 (older
	// models 200, QL-1100 series 350); the printer skips NULs, so the
	// larger count is safe for every model.
	brotherInvalidate     = 400
	brotherContinuousFeed = 35 // dots of margin on continuous tape (3 mm)
	brotherStatusLen      = 32
	brotherMaxStatuses    = 64 // bound on status replies read after a job
)

// BrotherMedia is the label stock loaded in a Brother QL.
type BrotherMedia string

// Supported Brother stock. Both are 62 mm wide; the badge is 696 dots wide.
const (
	// BrotherDieCut62x100 is DK-11202 die-cut labels: a job is exactly
	// 1109 lines (badge.Brother62x100).
	BrotherDieCut62x100 BrotherMedia = "dk-11202"
	// BrotherContinuous62 is 62 mm continuous tape, cut after each badge;
	// any length from 150 to 11811 lines.
	BrotherContinuous62 BrotherMedia = "62mm-continuous"
)

// Media types in the print information command and the status reply.
const (
	brotherTypeContinuous = 0x0A
	brotherTypeDieCut     = 0x0B
)

// EncodeBrotherRaster returns the complete raster job that prints bm on a
// QL-800 series printer: invalidate (400 × 00h), ESC @ (initialise),
// ESC i a 01 (raster mode), ESC i z (print information: media type, 62 mm,
// length, raster line count, first page; quality and recovery flags), ESC i M
// 40h (auto cut), ESC i A 01 (cut every label), ESC i K 08h (cut at end),
// ESC i d (margin: 0 die-cut, 35 dots continuous), M 02h or 00h (PackBits or
// no compression), one "g 00 n data" per line of 90 bytes, and 1Ah (print
// with feeding). bm must be 696 dots wide (the printable area, placed at pins
// 12–707, mirrored); on die-cut stock it must be 1109 lines. The output
// depends only on the arguments.
func EncodeBrotherRaster(bm *badge.Bitmap, media BrotherMedia, compress bool) ([]byte, error) {
	if bm.Width != BrotherPrintableDots {
		return nil, newError(KindRejected, "print", fmt.Sprintf("badge is %d dots wide; 62 mm Brother labels take %d", bm.Width, BrotherPrintableDots), nil)
	}
	mediaType, lengthMM, margin := byte(brotherTypeDieCut), byte(100), uint16(0)
	switch media {
	case BrotherDieCut62x100:
		if bm.Height != BrotherDieCut62x100Lines {
			return nil, newError(KindRejected, "print", fmt.Sprintf("badge is %d lines long; DK-11202 labels take %d", bm.Height, BrotherDieCut62x100Lines), nil)
		}
	case BrotherContinuous62:
		if bm.Height < 150 || bm.Height > 11811 {
			return nil, newError(KindRejected, "print", fmt.Sprintf("badge is %d lines long; continuous tape takes 150–11811", bm.Height), nil)
		}
		mediaType, lengthMM, margin = brotherTypeContinuous, 0, brotherContinuousFeed
	default:
		return nil, newError(KindMisconfigured, "print", fmt.Sprintf("unknown Brother media %q", string(media)), nil)
	}
	out := make([]byte, brotherInvalidate, brotherInvalidate+64+bm.Height*(BrotherLineBytes+4))
	out = append(out, 0x1B, '@')
	out = append(out, 0x1B, 'i', 'a', 0x01)
	// ESC i z: valid flags = media type 02h | width 04h | length 08h |
	// quality 40h | recovery 80h.
	out = append(out, 0x1B, 'i', 'z', 0xCE, mediaType, 62, lengthMM)
	out = binary.LittleEndian.AppendUint32(out, uint32(bm.Height))
	out = append(out, 0x00, 0x00) // starting page; fixed 0
	out = append(out, 0x1B, 'i', 'M', 0x40)
	out = append(out, 0x1B, 'i', 'A', 0x01)
	out = append(out, 0x1B, 'i', 'K', 0x08)
	out = append(out, 0x1B, 'i', 'd', byte(margin), byte(margin>>8))
	if compress {
		out = append(out, 'M', 0x02)
	} else {
		out = append(out, 'M', 0x00)
	}
	line := make([]byte, BrotherLineBytes)
	for y := 0; y < bm.Height; y++ {
		clear(line)
		for x := 0; x < bm.Width; x++ {
			if bm.Black(x, y) {
				p := BrotherLeftPins + BrotherPrintableDots - 1 - x
				line[p/8] |= 0x80 >> (p % 8)
			}
		}
		data := line
		if compress {
			data = PackBits(line)
		}
		out = append(out, 'g', 0x00, byte(len(data)))
		out = append(out, data...)
	}
	out = append(out, 0x1A)
	return out, nil
}

// brotherStatusRequest is invalidate, initialise, ESC i S.
func brotherStatusRequest() []byte {
	b := make([]byte, brotherInvalidate, brotherInvalidate+5)
	return append(b, 0x1B, '@', 0x1B, 'i', 'S')
}

// Status types in byte 18 of a status reply.
const (
	BrotherReplyStatus    = 0x00 // reply to ESC i S
	BrotherPrintCompleted = 0x01
	BrotherErrorOccurred  = 0x02
	BrotherTurnedOff      = 0x04
	BrotherNotification   = 0x05
	BrotherPhaseChange    = 0x06
)

// BrotherStatus is a parsed 32-byte status reply of a QL printer:
//
//	0 80h print head mark   1 20h size   2 'B'   3 series code   4 model code
//	8 error information 1   9 error information 2
//	10 media width (mm)     11 media type (00h none, 0Ah continuous, 0Bh die-cut)
//	15 mode                 17 media length (mm, 0 for continuous)
//	18 status type          19 phase type   20–21 phase number   22 notification
type BrotherStatus struct {
	Model         byte
	Error1        byte
	Error2        byte
	MediaWidthMM  int
	MediaType     byte
	MediaLengthMM int
	StatusType    byte
	PhaseType     byte
	Notification  byte
}

// ParseBrotherStatus parses a status reply; it checks the fixed header
// (80h 20h 'B').
func ParseBrotherStatus(b []byte) (BrotherStatus, error) {
	if len(b) != brotherStatusLen {
		return BrotherStatus{}, fmt.Errorf("status reply is %d bytes, want %d", len(b), brotherStatusLen)
	}
	if b[0] != 0x80 || b[1] != 0x20 || b[2] != 'B' {
		return BrotherStatus{}, fmt.Errorf("status reply starts % X, want 80 20 42", b[:3])
	}
	return BrotherStatus{
		Model: b[4], Error1: b[8], Error2: b[9],
		MediaWidthMM: int(b[10]), MediaType: b[11], MediaLengthMM: int(b[17]),
		StatusType: b[18], PhaseType: b[19], Notification: b[22],
	}, nil
}

// Error information bits, bytes 8 and 9 of a status reply.
const (
	BrotherErrNoMedia      = 0x01 // error 1
	BrotherErrEndOfMedia   = 0x02 // error 1, die-cut only
	BrotherErrCutterJam    = 0x04 // error 1
	BrotherErrInUse        = 0x10 // error 1
	BrotherErrTurnedOff    = 0x20 // error 1
	BrotherErrHighVoltage  = 0x40 // error 1
	BrotherErrFan          = 0x80 // error 1
	BrotherErrReplaceMedia = 0x01 // error 2
	BrotherErrExpansionBuf = 0x02 // error 2
	BrotherErrTransmission = 0x04 // error 2
	BrotherErrCommBuffer   = 0x08 // error 2
	BrotherErrCoverOpen    = 0x10 // error 2
	BrotherErrCancelKey    = 0x20 // error 2
	BrotherErrFeed         = 0x40 // error 2: media cannot be fed
	BrotherErrSystem       = 0x80 // error 2
)

// Problems lists, in English for staff, every error bit set in the reply.
func (s BrotherStatus) Problems() []string {
	var out []string
	for _, e := range []struct {
		set  bool
		text string
	}{
		{s.Error2&BrotherErrCoverOpen != 0, "cover open"},
		{s.Error1&BrotherErrNoMedia != 0, "no labels"},
		{s.Error1&BrotherErrEndOfMedia != 0, "end of labels"},
		{s.Error2&BrotherErrFeed != 0, "labels cannot be fed"},
		{s.Error1&BrotherErrCutterJam != 0, "cutter jam"},
		{s.Error2&BrotherErrReplaceMedia != 0, "replace labels"},
		{s.Error1&BrotherErrTurnedOff != 0, "printer turned off"},
		{s.Error1&BrotherErrInUse != 0, "printer in use"},
		{s.Error2&BrotherErrExpansionBuf != 0, "expansion buffer full"},
		{s.Error2&BrotherErrCommBuffer != 0, "communication buffer full"},
		{s.Error2&BrotherErrTransmission != 0, "transmission error"},
		{s.Error2&BrotherErrCancelKey != 0, "cancelled at the printer"},
		{s.Error1&BrotherErrHighVoltage != 0, "wrong power adapter"},
		{s.Error1&BrotherErrFan != 0, "fan failure"},
		{s.Error2&BrotherErrSystem != 0, "system error"},
	} {
		if e.set {
			out = append(out, e.text)
		}
	}
	return out
}

// problem returns the failure the reply reports, the most urgent kind
// first, or nil when it reports none. Detail lists every problem.
func (s BrotherStatus) problem(op string) *Error {
	probs := s.Problems()
	kind := Kind("")
	switch {
	case s.Error2&BrotherErrCoverOpen != 0:
		kind = KindCoverOpen
	case s.Error1&(BrotherErrNoMedia|BrotherErrEndOfMedia) != 0, s.Error2&BrotherErrFeed != 0:
		kind = KindOutOfMedia
	case s.Error1&BrotherErrCutterJam != 0:
		kind = KindJam
	case s.Error2&BrotherErrReplaceMedia != 0:
		kind = KindWrongMedia
	case s.Error1&BrotherErrTurnedOff != 0:
		kind = KindOffline
	case s.Error1&BrotherErrInUse != 0, s.Error2&(BrotherErrExpansionBuf|BrotherErrCommBuffer) != 0:
		kind = KindBusy
	case s.Error2&BrotherErrTransmission != 0:
		kind = KindProtocol
	case s.Error2&BrotherErrCancelKey != 0:
		kind = KindRejected
	case len(probs) > 0:
		kind = KindPrinterError
	case s.MediaType == 0x00 && s.StatusType == BrotherReplyStatus:
		return newError(KindOutOfMedia, op, "no labels", nil)
	default:
		return nil
	}
	return newError(kind, op, strings.Join(probs, ", "), nil)
}

// Status maps the reply to the kiosk's printer states.
func (s BrotherStatus) Status() Status {
	if e := s.problem("status"); e != nil {
		return e.Status()
	}
	return Status{State: StateReady}
}

// mediaMismatch reports loaded stock that does not match media, or nil.
func (s BrotherStatus) mediaMismatch(media BrotherMedia) *Error {
	want, wantLen := byte(brotherTypeDieCut), 100
	if media == BrotherContinuous62 {
		want, wantLen = brotherTypeContinuous, 0
	}
	typ := s.MediaType &^ 0x40 // some firmware sets 40h (4Ah, 4Bh) for the same stock
	if s.MediaWidthMM != 62 || typ != want || (want == brotherTypeDieCut && s.MediaLengthMM != wantLen) {
		return newError(KindWrongMedia, "print", fmt.Sprintf("printer has %d mm %s labels loaded; badges need %s", s.MediaWidthMM, brotherMediaName(typ, s.MediaLengthMM), media), nil)
	}
	return nil
}

func brotherMediaName(typ byte, length int) string {
	switch typ {
	case brotherTypeContinuous:
		return "continuous"
	case brotherTypeDieCut:
		return fmt.Sprintf("x %d mm die-cut", length)
	}
	return fmt.Sprintf("type %02Xh", typ)
}

// BrotherQL prints to a Brother QL-800 series printer (QL-820NWB) in its
// raster protocol over TCP port 9100. Each Print asks the printer's status
// (ESC i S) first and sends nothing when it reports an error, no labels or
// stock other than Media; then it sends the job and waits for the printer's
// "printing completed" or "error occurred" status.
type BrotherQL struct {
	addr string
	opts BrotherOptions
	mu   sync.Mutex
}

// BrotherOptions tune a BrotherQL driver. The zero value prints on DK-11202
// labels with PackBits compression.
type BrotherOptions struct {
	Net NetOptions
	// Media is the stock loaded; default BrotherDieCut62x100.
	Media BrotherMedia
	// NoCompression sends raster lines uncompressed.
	NoCompression bool
	// ConfirmTimeout bounds the wait for the printer to report the badge
	// printed; default 20 s. When it passes without a report Print fails
	// with KindUnconfirmed (not retryable: the badge may have printed).
	ConfirmTimeout time.Duration
}

// NewBrotherQL returns a driver for the printer at addr ("host:9100").
func NewBrotherQL(addr string, opts BrotherOptions) *BrotherQL {
	opts.Net = opts.Net.withDefaults()
	if opts.Media == "" {
		opts.Media = BrotherDieCut62x100
	}
	if opts.ConfirmTimeout <= 0 {
		opts.ConfirmTimeout = 20 * time.Second
	}
	return &BrotherQL{addr: addr, opts: opts}
}

// Print checks status, sends job as raster data and waits for completion.
func (q *BrotherQL) Print(ctx context.Context, job Job) error {
	if !validJobID(job.ID) {
		return newError(KindRejected, "print", "job id is not usable", nil)
	}
	bm, err := job.bitmap()
	if err != nil {
		return err
	}
	data, err := EncodeBrotherRaster(bm, q.opts.Media, !q.opts.NoCompression)
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	c, err := dial(ctx, q.opts.Net, "print", q.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := q.status(c)
	if err != nil {
		return err
	}
	if e := st.problem("print"); e != nil {
		return e
	}
	if e := st.mediaMismatch(q.opts.Media); e != nil {
		return e
	}
	if err := c.write(data, "sending the badge"); err != nil {
		return err
	}
	// The printer now reports phase changes and then completion or an
	// error, each as a 32-byte status.
	deadline := c.opts.Now().Add(q.opts.ConfirmTimeout)
	reply := make([]byte, brotherStatusLen)
	for range brotherMaxStatuses {
		left := deadline.Sub(c.opts.Now())
		if left <= 0 {
			break
		}
		if err := c.readFull(reply, left, "waiting for the badge to print"); err != nil {
			var e *Error
			if ctx.Err() == nil && asError(err, &e) && (e.Kind == KindTimeout || e.Kind == KindOffline) {
				return newError(KindUnconfirmed, "print", "badge sent but the printer did not confirm it printed", err)
			}
			return err
		}
		s, err := ParseBrotherStatus(reply)
		if err != nil {
			return newError(KindUnconfirmed, "print", "badge sent but the printer's reply was not understood", err)
		}
		switch s.StatusType {
		case BrotherPrintCompleted:
			return nil
		case BrotherErrorOccurred:
			if e := s.problem("print"); e != nil {
				return e
			}
			return newError(KindPrinterError, "print", "printer reported an error", nil)
		case BrotherTurnedOff:
			return newError(KindOffline, "print", "printer turned off", nil)
		}
	}
	return newError(KindUnconfirmed, "print", "badge sent but the printer did not confirm it printed", nil)
}

// Status asks the printer ESC i S and reports the reply; stock other than
// the configured Media shows as an error.
func (q *BrotherQL) Status(ctx context.Context) (Status, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c, err := dial(ctx, q.opts.Net, "status", q.addr)
	if err != nil {
		return err.(*Error).Status(), err
	}
	defer c.Close()
	st, err := q.status(c)
	if err != nil {
		return err.(*Error).Status(), err
	}
	if e := st.problem("status"); e != nil {
		return e.Status(), nil
	}
	if e := st.mediaMismatch(q.opts.Media); e != nil {
		return e.Status(), nil
	}
	return Status{State: StateReady}, nil
}

func (q *BrotherQL) status(c *conn) (BrotherStatus, error) {
	if err := c.write(brotherStatusRequest(), "asking for status"); err != nil {
		return BrotherStatus{}, err
	}
	reply := make([]byte, brotherStatusLen)
	if err := c.readFull(reply, c.opts.IOTimeout, "reading status"); err != nil {
		return BrotherStatus{}, err
	}
	st, err := ParseBrotherStatus(reply)
	if err != nil {
		return BrotherStatus{}, newError(KindProtocol, c.op, "status reply not understood", err)
	}
	return st, nil
}
