package cli

import "os"

// renameAside moves dst out of the way and src into its place: the
// fallback of exchangeDirs where the system cannot exchange two folders
// at once (between the two renames dst does not exist). src then holds
// the old folder.
func renameAside(src, dst string) error {
	old := src + ".old"
	if err := os.Rename(dst, old); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		os.Rename(old, dst)
		return err
	}
	return os.Rename(old, src)
}
