package printer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/theonestack/visitor/edge/badge"
)

// Runner runs a command with stdin as its standard input and returns what
// it wrote. err is non-nil when it could not start or exited non-zero (an
// *exec.ExitError then). CUPS takes one so tests need no CUPS.
type Runner func(ctx context.Context, stdin []byte, name string, args ...string) (stdout, stderr []byte, err error)

// ExecRunner runs the command with os/exec in the C locale, so lp and
// lpstat answer in the English the parsers read.
func ExecRunner(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

// CUPS prints through a CUPS queue with the lp command (Debian package
// cups-client), for printers the kiosk reaches through a driver: office
// printers, or a QL-820NWB on printer-driver-ptouch. The document goes to
// lp's standard input, so no temporary file is left behind:
//
//	lp -d QUEUE -t JOB-ID -o media=MEDIA [-o OPTION…]
//
// Status runs "lpstat -p QUEUE" and reads the queue's state and message.
type CUPS struct {
	queue string
	opts  CUPSOptions
	mu    sync.Mutex
}

// CUPSOptions tune a CUPS driver. The zero value works.
type CUPSOptions struct {
	// Run runs lp and lpstat; default ExecRunner.
	Run Runner
	// Media overrides the media option per label size; by default it is
	// badge.Size.Media ("Custom.62x100mm").
	Media map[badge.Size]string
	// Options are extra "-o" options, such as "fit-to-page".
	Options []string
	// PreferPNG sends the PNG even when the job has a PDF; by default a
	// PDF is sent when there is one, since every CUPS driver takes PDF.
	PreferPNG bool
}

// NewCUPS returns a driver for CUPS queue name. A name that CUPS could not
// have (empty, white space, '/', '#', starting with '-') is KindMisconfigured.
func NewCUPS(queue string, opts CUPSOptions) (*CUPS, error) {
	if queue == "" || strings.HasPrefix(queue, "-") || strings.ContainsAny(queue, " \t\r\n/#\\'\"") {
		return nil, newError(KindMisconfigured, "print", "CUPS queue name is not valid", nil)
	}
	if opts.Run == nil {
		opts.Run = ExecRunner
	}
	return &CUPS{queue: queue, opts: opts}, nil
}

// Print submits the job with lp.
func (p *CUPS) Print(ctx context.Context, job Job) error {
	if !validJobID(job.ID) {
		return newError(KindRejected, "print", "job id is not usable", nil)
	}
	doc := job.PDF
	if len(doc) == 0 || (p.opts.PreferPNG && len(job.PNG) > 0) {
		doc = job.PNG
	}
	if len(doc) == 0 && job.Image != nil {
		b, err := badge.EncodePNG(job.Image)
		if err != nil {
			return newError(KindRejected, "print", "job image cannot be encoded", err)
		}
		doc = b
	}
	if len(doc) == 0 {
		return newError(KindRejected, "print", "job has no PDF, PNG or image for CUPS", nil)
	}
	args := []string{"-d", p.queue, "-t", job.ID}
	media := job.Size.Media()
	if m, ok := p.opts.Media[job.Size]; ok {
		media = m
	}
	if media != "" {
		args = append(args, "-o", "media="+media)
	}
	for _, o := range p.opts.Options {
		args = append(args, "-o", o)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	stdout, stderr, err := p.opts.Run(ctx, doc, "lp", args...)
	if err != nil {
		return cupsError(ctx, "print", "lp", stderr, err)
	}
	if !strings.Contains(string(stdout), "request id is ") {
		return newError(KindUnconfirmed, "print", "lp did not report a request id", nil)
	}
	return nil
}

// Status runs lpstat -p and parses it (see ParseLpstat).
func (p *CUPS) Status(ctx context.Context) (Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	stdout, stderr, err := p.opts.Run(ctx, nil, "lpstat", "-p", p.queue)
	if err != nil {
		e := cupsError(ctx, "status", "lpstat", stderr, err)
		return e.Status(), e
	}
	st, perr := ParseLpstat(string(stdout), p.queue)
	if perr != nil {
		e := newError(KindProtocol, "status", "lpstat output not understood", perr)
		return e.Status(), e
	}
	return st, nil
}

// cupsError classifies a failed lp or lpstat run by its exit and message.
func cupsError(ctx context.Context, op, cmd string, stderr []byte, err error) *Error {
	if ctx.Err() != nil {
		return ctxError(op, ctx.Err())
	}
	if errors.Is(err, exec.ErrNotFound) {
		return newError(KindMisconfigured, op, cmd+" is not installed (Debian package cups-client)", err)
	}
	msg := strings.ToLower(strings.TrimSpace(string(stderr)))
	// The first line is enough for staff; lp's messages are one line.
	first, _, _ := strings.Cut(strings.TrimSpace(string(stderr)), "\n")
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	var kind Kind
	switch {
	case has("unable to connect", "scheduler not responding", "connection refused", "no route to host"):
		kind = KindOffline
		first = "CUPS is not running"
	case has("not accepting jobs"):
		kind = KindOffline
	case has("does not exist", "invalid destination", "unknown destination", "no default destination", "not found"):
		kind = KindMisconfigured
	case has("forbidden", "not authorized", "unauthorized", "permission denied"):
		kind = KindMisconfigured
	case has("unsupported document-format", "unsupported format", "document format", "too large"):
		kind = KindRejected
	default:
		kind = KindPrinterError
	}
	if first == "" {
		first = cmd + " failed"
	}
	return newError(kind, op, first, err)
}

// ParseLpstat reads "lpstat -p QUEUE" output for queue:
//
//	printer QUEUE is idle.  enabled since …
//	printer QUEUE now printing QUEUE-42.  enabled since …
//	printer QUEUE disabled since … -
//		reason unknown
//
// Tab-indented lines after the first are the queue's state message. An idle
// or printing queue is ready unless its message says the device needs
// attention (media empty or out of paper → out_of_media; cover or door open
// → cover_open; jam → error; offline, not connected, waiting for printer to
// become available → offline). A disabled queue is offline, with its
// message as Detail. Output that does not describe queue is an error.
func ParseLpstat(out, queue string) (Status, error) {
	var head string
	var msgs []string
	found, done := false, false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case done:
		case !found && strings.HasPrefix(line, "printer "+queue+" "):
			found, head = true, line
		case found && (strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ")):
			if m := strings.TrimSpace(line); m != "" && len(msgs) < 8 {
				msgs = append(msgs, m)
			}
		case found && line != "":
			done = true // the next printer's paragraph
		}
	}
	if !found {
		return Status{}, errors.New("no line for the queue")
	}
	rest := strings.TrimPrefix(head, "printer "+queue+" ")
	msg := strings.Join(msgs, "; ")
	lower := strings.ToLower(msg)
	switch {
	case strings.HasPrefix(rest, "disabled"):
		if msg == "" || lower == "reason unknown" {
			msg = "queue disabled"
		}
		if st, ok := deviceState(lower, msg); ok {
			return st, nil
		}
		return Status{State: StateOffline, Detail: msg}, nil
	case strings.HasPrefix(rest, "is idle"), strings.HasPrefix(rest, "now printing"):
		if st, ok := deviceState(lower, msg); ok {
			return st, nil
		}
		detail := ""
		if strings.HasPrefix(rest, "now printing") {
			detail = "printing"
		}
		return Status{State: StateReady, Detail: detail}, nil
	}
	return Status{State: StateUnknown, Detail: strings.TrimSpace(rest)}, nil
}

// deviceState maps a CUPS state message to a device condition.
func deviceState(lower, msg string) (Status, bool) {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(lower, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("cover open", "door open", "cover is open", "door is open", "cover-open", "door-open"):
		return Status{State: StateCoverOpen, Detail: msg}, true
	case has("media empty", "media-empty", "out of paper", "paper out", "no paper", "no media", "media-needed", "out of labels"):
		return Status{State: StateOutOfMedia, Detail: msg}, true
	case has("jam"):
		return Status{State: StateError, Detail: msg}, true
	case has("offline", "not connected", "unable to connect", "not responding", "waiting for printer to become available"):
		return Status{State: StateOffline, Detail: msg}, true
	}
	return Status{}, false
}
