package printer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/theonestack/visitor/edge/badge"
)

// Dir is the development sink: it "prints" a job by writing it into a
// directory as ID.png, ID.pdf and ID.zpl, one file for each form the job
// carries (a job with only an Image is written as PNG). Each file appears
// whole or not at all: it is written to a temporary name in the same
// directory, synced and renamed, so a reader never sees half a badge and a
// reprint replaces the old file atomically.
type Dir struct {
	path string
	mu   sync.Mutex
}

// NewDir returns a sink writing into path, which must exist.
func NewDir(path string) *Dir { return &Dir{path: path} }

// Print writes the job's files.
func (d *Dir) Print(ctx context.Context, job Job) error {
	if !validJobID(job.ID) {
		return newError(KindRejected, "print", "job id is not usable as a file name", nil)
	}
	files := map[string][]byte{".png": job.PNG, ".pdf": job.PDF, ".zpl": job.ZPL}
	if len(job.PNG) == 0 && job.Image != nil {
		b, err := badge.EncodePNG(job.Image)
		if err != nil {
			return newError(KindRejected, "print", "job image cannot be encoded", err)
		}
		files[".png"] = b
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	wrote := 0
	for _, ext := range []string{".png", ".pdf", ".zpl"} {
		if len(files[ext]) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return ctxError("print", err)
		}
		if err := d.writeAtomic(job.ID+ext, files[ext]); err != nil {
			return err
		}
		wrote++
	}
	if wrote == 0 {
		return newError(KindRejected, "print", "job has no PNG, PDF, ZPL or image", nil)
	}
	return nil
}

func (d *Dir) writeAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(d.path, "."+name+".*.tmp")
	if err != nil {
		return d.fsError(err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return d.fsError(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.path, name)); err != nil {
		_ = os.Remove(tmp)
		return d.fsError(err)
	}
	return nil
}

func (d *Dir) fsError(err error) *Error {
	if errors.Is(err, fs.ErrNotExist) {
		return newError(KindMisconfigured, "print", "output directory does not exist", err)
	}
	if errors.Is(err, fs.ErrPermission) {
		return newError(KindMisconfigured, "print", "output directory is not writable", err)
	}
	return newError(KindPrinterError, "print", "cannot write the badge file", err)
}

// Status reports ready when the directory exists and a file can be created
// in it.
func (d *Dir) Status(ctx context.Context) (Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.CreateTemp(d.path, ".status.*.tmp")
	if err != nil {
		e := d.fsError(err)
		e.Op = "status"
		return e.Status(), e
	}
	name := f.Name()
	_ = f.Close()
	_ = os.Remove(name)
	return Status{State: StateReady}, nil
}
