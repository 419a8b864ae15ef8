//go:build !unix

package sqlite

import "os"

// lockFile is not available here: the database is opened without a lock,
// and the committed-resource cache stays off (another process could
// write the file).
func lockFile(path string, exclusive bool) (*os.File, bool, error) { return nil, false, nil }
