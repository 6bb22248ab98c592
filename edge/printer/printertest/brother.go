package printertest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"time"

	"github.com/theonestack/visitor/edge/printer"
)

// BrotherCondition is what a FakeBrother reports.
type BrotherCondition int

// Fake Brother conditions.
const (
	BrotherReady     BrotherCondition = iota // prints and reports completion
	BrotherNoMedia                           // status: no labels (error 1 bit 01h, media type 00h)
	BrotherCoverOpen                         // status: cover open (error 2 bit 10h)
	BrotherSilent                            // answers status, takes jobs, never reports completion
)

// connTimeout bounds how long a fake waits on an idle client.
const connTimeout = 10 * time.Second

// FakeBrother is a loopback QL-820NWB: it answers ESC i S with a 32-byte
// status for 62 mm DK-11202 labels (or whatever SetMedia loads), records
// every job up to its print command, and after a job sends the phase-change
// and "printing completed" statuses, or an "error occurred" status when not
// ready. A recorded job (Jobs) includes the bytes sent before it on the
// same connection, such as the driver's status request. It is safe for
// concurrent use.
type FakeBrother struct {
	tcpFake
	cond  BrotherCondition
	media [3]byte // width mm, type, length mm
}

// StartFakeBrother listens on 127.0.0.1 on a free port. Close it when done.
func StartFakeBrother() (*FakeBrother, error) {
	f := &FakeBrother{media: [3]byte{62, 0x0B, 100}}
	if err := f.start(f.handle); err != nil {
		return nil, err
	}
	return f, nil
}

// SetCondition changes what the fake reports from the next status on.
func (f *FakeBrother) SetCondition(c BrotherCondition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cond = c
}

// SetMedia changes the loaded stock: width and length in mm (length 0 and
// continuous true for continuous tape).
func (f *FakeBrother) SetMedia(widthMM, lengthMM int, continuous bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	typ := byte(0x0B)
	if continuous {
		typ = 0x0A
	}
	f.media = [3]byte{byte(widthMM), typ, byte(lengthMM)}
}

// StatusRequests counts ESC i S commands received.
func (f *FakeBrother) StatusRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs
}

// recorder keeps every byte read through it.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf.Write(p[:n])
	if r.buf.Len() > maxRasterStream {
		return n, errors.New("job too large")
	}
	return n, err
}

func (f *FakeBrother) handle(c net.Conn) {
	rec := &recorder{r: c}
	// A small buffer; Buffered tells how far the parser really got.
	r := bufio.NewReaderSize(rec, 16)
	for {
		cmd, err := readBrotherCommand(r)
		if err != nil {
			return
		}
		switch cmd.op {
		case "status":
			f.mu.Lock()
			f.reqs++
			reply := f.statusLocked(printer.BrotherReplyStatus, 0)
			f.mu.Unlock()
			if _, err := c.Write(reply); err != nil {
				return
			}
		case "print", "print-last":
			consumed := rec.buf.Len() - r.Buffered()
			f.mu.Lock()
			f.jobs = append(f.jobs, bytes.Clone(rec.buf.Bytes()[:consumed]))
			cond := f.cond
			var replies []byte
			switch cond {
			case BrotherReady:
				replies = append(replies, f.statusLocked(printer.BrotherPhaseChange, 1)...)
				replies = append(replies, f.statusLocked(printer.BrotherPrintCompleted, 1)...)
				replies = append(replies, f.statusLocked(printer.BrotherPhaseChange, 0)...)
			case BrotherNoMedia, BrotherCoverOpen:
				replies = f.statusLocked(printer.BrotherErrorOccurred, 0)
			}
			f.mu.Unlock()
			rest := rec.buf.Bytes()[consumed:]
			rec.buf.Reset()
			rec.buf.Write(rest)
			if len(replies) > 0 {
				if _, err := c.Write(replies); err != nil {
					return
				}
			}
		}
	}
}

// statusLocked builds a status reply for the current condition.
func (f *FakeBrother) statusLocked(statusType, phase byte) []byte {
	var e1, e2 byte
	media := f.media
	switch f.cond {
	case BrotherNoMedia:
		e1 = printer.BrotherErrNoMedia
		media = [3]byte{}
	case BrotherCoverOpen:
		e2 = printer.BrotherErrCoverOpen
	}
	return BrotherStatusReply(e1, e2, media[0], media[1], media[2], statusType, phase)
}

// BrotherStatusReply builds a 32-byte QL status reply: header 80h 20h 'B'
// '4' (series), model code 39h (assumed for the QL-820NWB), error bytes,
// media width/type/length, status type and phase type; other bytes as the
// reference fixes them.
func BrotherStatusReply(err1, err2, widthMM, mediaType, lengthMM, statusType, phase byte) []byte {
	b := make([]byte, 32)
	b[0], b[1], b[2], b[3], b[4], b[5], b[6] = 0x80, 0x20, 'B', '4', '9', '0', '0'
	b[8], b[9] = err1, err2
	b[10], b[11], b[17] = widthMM, mediaType, lengthMM
	b[18], b[19] = statusType, phase
	return b
}
