package printer

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/theonestack/visitor/edge/badge"
)

// Zebra prints ZPL II over a raw TCP connection (port 9100) to a Zebra label
// printer. Before each job it asks the printer's host status (~HS) and does
// not send into a printer that reports paper out, head open, ribbon out,
// pause or another fault. A job without ZPL is converted from its image with
// badge.EncodeZPL; the printer's resolution must match the image's (203 dpi
// for badge.Label4x3in).
//
// ZPL has no completion report over a raw connection, so a nil error from
// Print means the printer was ready and took the whole job.
type Zebra struct {
	addr string
	opts ZebraOptions
	mu   sync.Mutex
}

// ZebraOptions tune a Zebra driver. The zero value works.
type ZebraOptions struct {
	Net NetOptions
	// SkipStatusCheck sends jobs without asking ~HS first, for printers
	// or emulations that do not answer it. Failures then show only as
	// missing badges, so leave it off for real Zebras.
	SkipStatusCheck bool
}

// NewZebra returns a driver for the printer at addr ("host:9100").
func NewZebra(addr string, opts ZebraOptions) *Zebra {
	opts.Net = opts.Net.withDefaults()
	return &Zebra{addr: addr, opts: opts}
}

// Print sends job's ZPL (or its image as ZPL) after checking host status.
func (z *Zebra) Print(ctx context.Context, job Job) error {
	if !validJobID(job.ID) {
		return newError(KindRejected, "print", "job id is not usable", nil)
	}
	zpl := job.ZPL
	if len(zpl) == 0 {
		bm, err := job.bitmap()
		if err != nil {
			return err
		}
		zpl = badge.EncodeZPL(bm)
	}
	if !bytes.Contains(zpl, []byte("^XA")) || !bytes.Contains(zpl, []byte("^XZ")) {
		return newError(KindRejected, "print", "job is not a ZPL label (^XA … ^XZ)", nil)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	c, err := dial(ctx, z.opts.Net, "print", z.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if !z.opts.SkipStatusCheck {
		hs, err := z.hostStatus(c)
		if err != nil {
			return err
		}
		if e := hs.problem("print"); e != nil {
			return e
		}
	}
	if err := c.write(zpl, "sending the label"); err != nil {
		return err
	}
	return nil
}

// Status asks the printer ~HS and reports what it says.
func (z *Zebra) Status(ctx context.Context) (Status, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	c, err := dial(ctx, z.opts.Net, "status", z.addr)
	if err != nil {
		return err.(*Error).Status(), err
	}
	defer c.Close()
	hs, err := z.hostStatus(c)
	if err != nil {
		return err.(*Error).Status(), err
	}
	return hs.Status(), nil
}

// maxHostStatus bounds a ~HS reply; real ones are about 80 bytes.
const maxHostStatus = 1024

func (z *Zebra) hostStatus(c *conn) (ZebraHostStatus, error) {
	if err := c.write([]byte("~HS"), "asking for host status"); err != nil {
		return ZebraHostStatus{}, err
	}
	// Read until the third ETX: the reply is three STX…ETX CR LF strings.
	deadline := c.opts.Now().Add(c.opts.IOTimeout)
	var buf []byte
	one := make([]byte, 256)
	for bytes.Count(buf, []byte{0x03}) < 3 {
		if len(buf) > maxHostStatus {
			return ZebraHostStatus{}, newError(KindProtocol, c.op, "host status reply too long", nil)
		}
		if err := c.c.SetReadDeadline(deadline); err != nil {
			return ZebraHostStatus{}, c.ioError("reading host status", err)
		}
		n, err := c.c.Read(one)
		buf = append(buf, one[:n]...)
		if err != nil && bytes.Count(buf, []byte{0x03}) < 3 {
			return ZebraHostStatus{}, c.ioError("reading host status", err)
		}
	}
	hs, err := ParseZebraHostStatus(buf)
	if err != nil {
		return ZebraHostStatus{}, newError(KindProtocol, c.op, "host status reply not understood", err)
	}
	return hs, nil
}

// ZebraHostStatus is the part of a Zebra's ~HS reply the kiosk uses.
//
// The reply is three strings, each STX … ETX CR LF, of comma-separated
// fields (ZPL II Programming Guide, ~HS):
//
//	1: aaa,b,c,dddd,eee,f,g,h,iii,j,k,l
//	2: mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www
//	3: xxxx,y
//
// ParseZebraHostStatus reads string 1's b (paper out), c (pause), dddd
// (label length in dots), eee (formats in the receive buffer), f (buffer
// full), j (corrupt RAM), k (under temperature) and l (over temperature), and
// string 2's o (head up, i.e. open), p (ribbon out) and uuuuuuuu (labels
// remaining in the batch). Flags are "1" for set. Other fields (interface
// settings, modes, password) are ignored; string 3 must be present but is
// not read.
type ZebraHostStatus struct {
	PaperOut, Paused, BufferFull, CorruptRAM, UnderTemp, OverTemp bool
	HeadOpen, RibbonOut                                           bool
	LabelLengthDots, FormatsInBuffer, LabelsRemaining             int
}

// ParseZebraHostStatus parses a ~HS reply (see ZebraHostStatus). Bytes
// outside the STX…ETX frames (CR, LF, noise) are ignored.
func ParseZebraHostStatus(b []byte) (ZebraHostStatus, error) {
	var frames []string
	for len(b) > 0 && len(frames) < 3 {
		s := bytes.IndexByte(b, 0x02)
		if s < 0 {
			break
		}
		e := bytes.IndexByte(b[s:], 0x03)
		if e < 0 {
			return ZebraHostStatus{}, fmt.Errorf("host status string %d has no ETX", len(frames)+1)
		}
		frames = append(frames, string(b[s+1:s+e]))
		b = b[s+e+1:]
	}
	if len(frames) != 3 {
		return ZebraHostStatus{}, fmt.Errorf("host status has %d strings, want 3", len(frames))
	}
	f1 := strings.Split(frames[0], ",")
	f2 := strings.Split(frames[1], ",")
	if len(f1) < 12 {
		return ZebraHostStatus{}, fmt.Errorf("host status string 1 has %d fields, want 12", len(f1))
	}
	if len(f2) < 11 {
		return ZebraHostStatus{}, fmt.Errorf("host status string 2 has %d fields, want 11", len(f2))
	}
	var hs ZebraHostStatus
	var err error
	flag := func(s string, name string) bool {
		switch strings.TrimSpace(s) {
		case "0":
			return false
		case "1":
			return true
		}
		if err == nil {
			err = fmt.Errorf("host status flag %s is %q, want 0 or 1", name, s)
		}
		return false
	}
	num := func(s string, name string) int {
		n, e := strconv.Atoi(strings.TrimSpace(s))
		if e != nil && err == nil {
			err = fmt.Errorf("host status field %s is %q, want a number", name, s)
		}
		return n
	}
	hs.PaperOut = flag(f1[1], "paper out")
	hs.Paused = flag(f1[2], "pause")
	hs.LabelLengthDots = num(f1[3], "label length")
	hs.FormatsInBuffer = num(f1[4], "formats in buffer")
	hs.BufferFull = flag(f1[5], "buffer full")
	hs.CorruptRAM = flag(f1[9], "corrupt RAM")
	hs.UnderTemp = flag(f1[10], "under temperature")
	hs.OverTemp = flag(f1[11], "over temperature")
	hs.HeadOpen = flag(f2[2], "head up")
	hs.RibbonOut = flag(f2[3], "ribbon out")
	hs.LabelsRemaining = num(f2[8], "labels remaining")
	if err != nil {
		return ZebraHostStatus{}, err
	}
	return hs, nil
}

// problem returns the failure the status implies, most urgent first, or nil
// when the printer is ready.
func (hs ZebraHostStatus) problem(op string) *Error {
	switch {
	case hs.HeadOpen:
		return newError(KindCoverOpen, op, "print head open", nil)
	case hs.PaperOut:
		return newError(KindOutOfMedia, op, "paper out", nil)
	case hs.RibbonOut:
		return newError(KindOutOfMedia, op, "ribbon out", nil)
	case hs.Paused:
		return newError(KindPaused, op, "printer paused", nil)
	case hs.CorruptRAM:
		return newError(KindPrinterError, op, "printer memory corrupt", nil)
	case hs.OverTemp:
		return newError(KindPrinterError, op, "print head too hot", nil)
	case hs.UnderTemp:
		return newError(KindPrinterError, op, "print head too cold", nil)
	case hs.BufferFull:
		return newError(KindBusy, op, "receive buffer full", nil)
	}
	return nil
}

// Status maps the host status to the kiosk's printer states.
func (hs ZebraHostStatus) Status() Status {
	if e := hs.problem("status"); e != nil {
		return e.Status()
	}
	return Status{State: StateReady}
}
