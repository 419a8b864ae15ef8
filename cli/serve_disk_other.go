//go:build !unix

package cli

import "errors"

// statfsFree is not implemented here: /healthz does not report disk space.
func statfsFree(path string) (free, total uint64, err error) {
	return 0, 0, errors.ErrUnsupported
}
