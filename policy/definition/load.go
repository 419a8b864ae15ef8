package definition

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File is a document loaded from disk, or the error that prevented it.
type File struct {
	Path string
	Doc  *Document
	Err  error
}

// LoadPaths loads every *.json file under the given files or folders
// (recursively), in a stable order. Unreadable or invalid files are
// returned with their error; the others are loaded.
func LoadPaths(paths []string) ([]*File, error) {
	var names []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			names = append(names, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".json") {
				names = append(names, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(names)
	out := make([]*File, 0, len(names))
	for _, n := range names {
		f := &File{Path: n}
		data, err := os.ReadFile(n)
		if err != nil {
			f.Err = err
		} else {
			f.Doc, f.Err = Parse(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
		}
		out = append(out, f)
	}
	return out, nil
}

// Key returns the lookup keys of a definition for initiative member
// resolution: its id (lower-cased) and its name.
func (d *Definition) Keys() []string {
	var k []string
	if d.ID != "" {
		k = append(k, strings.ToLower(d.ID))
	}
	if d.Name != "" {
		k = append(k, strings.ToLower(d.Name))
	}
	return k
}
