package cli

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchangeDirs swaps the folders src and dst in one step
// (renameat2 RENAME_EXCHANGE), or in two where the file system cannot.
func exchangeDirs(src, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) {
		return renameAside(src, dst)
	}
	return err
}
