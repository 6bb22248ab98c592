package printertest

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// tcpFake is the loopback raw-TCP printer both fakes are built on: it
// accepts connections on 127.0.0.1, hands each to the printer's protocol
// handler with a deadline, tracks them so Close can drop them, and keeps
// the jobs and status-request count the handler records (under mu).
type tcpFake struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	jobs  [][]byte
	reqs  int
	conns map[net.Conn]struct{}
}

// start listens on a free loopback port and serves each connection with
// handle until Close.
func (f *tcpFake) start(handle func(net.Conn)) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	f.ln, f.conns = ln, map[net.Conn]struct{}{}
	f.wg.Add(1)
	go f.serve(handle)
	return nil
}

// Addr is the fake's host:port.
func (f *tcpFake) Addr() string { return f.ln.Addr().String() }

// Jobs returns a copy of every job received, in order.
func (f *tcpFake) Jobs() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]byte, len(f.jobs))
	for i, j := range f.jobs {
		out[i] = bytes.Clone(j)
	}
	return out
}

// Close stops listening, drops open connections and waits for them to end.
func (f *tcpFake) Close() error {
	err := f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return err
}

func (f *tcpFake) serve(handle func(net.Conn)) {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = struct{}{}
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer func() {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
				_ = c.Close()
			}()
			_ = c.SetDeadline(time.Now().Add(connTimeout))
			handle(c)
		}()
	}
}
