//go:build unix

package cli

import (
	"os"
	"syscall"
)

// mapFile maps a regular, non-empty file copy-on-write (changes stay in
// this process). ok is false when it cannot (not a regular file, empty,
// too large, or mmap failed); the caller then reads the file instead.
func mapFile(f *os.File) (data []byte, unmap func(), ok bool) {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() == 0 || st.Size() > 1<<40 {
		return nil, nil, false
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|mapPopulate)
	if err != nil {
		return nil, nil, false
	}
	return data, func() { syscall.Munmap(data) }, true
}
