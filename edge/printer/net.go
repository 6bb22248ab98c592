package printer

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// NetOptions tune a network printer driver. The zero value works.
type NetOptions struct {
	// DialTimeout bounds connecting; a printer that does not answer within
	// it is offline. Default 3 s.
	DialTimeout time.Duration
	// IOTimeout bounds each write and each read of a status reply.
	// Default 10 s.
	IOTimeout time.Duration
	// Dial connects to the printer; default a net.Dialer. Tests inject one.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock used for connection deadlines; default time.Now.
	Now func() time.Time
}

func (o NetOptions) withDefaults() NetOptions {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 3 * time.Second
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = 10 * time.Second
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// conn is one connection to a network printer with deadlines on every
// operation and the caller's context able to cut it short.
type conn struct {
	c    net.Conn
	opts NetOptions
	ctx  context.Context
	op   string
	stop func() bool
}

// dial connects to addr. Failure is a retryable KindOffline *Error (or
// KindTimeout when ctx ended first).
func dial(ctx context.Context, opts NetOptions, op, addr string) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	c, err := opts.Dial(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(op, ctx.Err())
		}
		return nil, newError(KindOffline, op, "cannot connect to the printer", err)
	}
	// Closing the deadline at once makes a blocked read or write return
	// when the caller gives up.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return &conn{c: c, opts: opts, ctx: ctx, op: op, stop: stop}, nil
}

func (c *conn) Close() error {
	c.stop()
	return c.c.Close()
}

// ioError classifies a read or write failure.
func (c *conn) ioError(what string, err error) *Error {
	if c.ctx.Err() != nil {
		return ctxError(c.op, c.ctx.Err())
	}
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return newError(KindTimeout, c.op, "printer stopped answering while "+what, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return newError(KindOffline, c.op, "printer closed the connection while "+what, err)
	}
	return newError(KindOffline, c.op, "connection failed while "+what, err)
}

func (c *conn) write(b []byte, what string) error {
	if err := c.c.SetWriteDeadline(c.opts.Now().Add(c.opts.IOTimeout)); err != nil {
		return c.ioError(what, err)
	}
	if _, err := c.c.Write(b); err != nil {
		return c.ioError(what, err)
	}
	return nil
}

// readFull reads exactly len(b) bytes before the deadline d.
func (c *conn) readFull(b []byte, d time.Duration, what string) error {
	if err := c.c.SetReadDeadline(c.opts.Now().Add(d)); err != nil {
		return c.ioError(what, err)
	}
	if _, err := io.ReadFull(c.c, b); err != nil {
		return c.ioError(what, err)
	}
	return nil
}
