//go:build !unix

package cli

import "os"

func mapFile(f *os.File) ([]byte, func(), bool) { return nil, nil, false }
