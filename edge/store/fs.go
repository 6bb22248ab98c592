package store

import "io/fs"

// mustSub returns a sub-tree of an embedded file system whose layout is
// fixed at build time, so the error cannot happen at run time.
func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic("embedded migrations missing: " + err.Error())
	}
	return sub
}
