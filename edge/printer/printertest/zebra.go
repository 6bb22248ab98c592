package printertest

import (
	"bytes"
	"fmt"
	"net"
)

// ZebraCondition is what a FakeZebra reports in its host status.
type ZebraCondition struct {
	PaperOut, HeadOpen, Paused, RibbonOut bool
}

// FakeZebra is a loopback ZPL printer on raw TCP: it answers ~HS with the
// three-string host status for its condition and records every label from
// ^XA to ^XZ. It takes labels whatever its condition (as a real Zebra
// buffers them), so tests can tell whether a driver checked first. It is
// safe for concurrent use.
type FakeZebra struct {
	tcpFake
	cond ZebraCondition
}

// StartFakeZebra listens on 127.0.0.1 on a free port. Close it when done.
func StartFakeZebra() (*FakeZebra, error) {
	f := &FakeZebra{}
	if err := f.start(f.handle); err != nil {
		return nil, err
	}
	return f, nil
}

// SetCondition changes what later ~HS replies say.
func (f *FakeZebra) SetCondition(c ZebraCondition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cond = c
}

// HostStatusRequests counts ~HS commands received.
func (f *FakeZebra) HostStatusRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs
}

func (f *FakeZebra) handle(c net.Conn) {
	var buf []byte
	chunk := make([]byte, 32<<10)
	for {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if len(buf) > maxRasterStream {
			return
		}
		for {
			hs := bytes.Index(buf, []byte("~HS"))
			xa := bytes.Index(buf, []byte("^XA"))
			if hs >= 0 && (xa < 0 || hs < xa) {
				f.mu.Lock()
				f.reqs++
				reply := ZebraHostStatusReply(f.cond)
				f.mu.Unlock()
				if _, err := c.Write(reply); err != nil {
					return
				}
				buf = buf[hs+3:]
				continue
			}
			if xa >= 0 {
				xz := bytes.Index(buf[xa:], []byte("^XZ"))
				if xz < 0 {
					break
				}
				f.mu.Lock()
				f.jobs = append(f.jobs, bytes.Clone(buf[xa:xa+xz+3]))
				f.mu.Unlock()
				buf = buf[xa+xz+3:]
				continue
			}
			break
		}
		if err != nil {
			return
		}
	}
}

// ZebraHostStatusReply builds a ~HS reply for cond: three STX…ETX CR LF
// strings with the paper out and pause flags in string 1 and the head up
// and ribbon out flags in string 2 (the layout printer.ZebraHostStatus
// documents); label length 609 dots, no formats buffered.
func ZebraHostStatusReply(cond ZebraCondition) []byte {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return fmt.Appendf(nil, "\x02030,%d,%d,0609,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,%d,%d,0,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n",
		b(cond.PaperOut), b(cond.Paused), b(cond.HeadOpen), b(cond.RibbonOut))
}
