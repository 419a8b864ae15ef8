//go:build !linux

package cli

// exchangeDirs swaps the folders src and dst (in two renames: this
// system has no atomic exchange).
func exchangeDirs(src, dst string) error { return renameAside(src, dst) }
