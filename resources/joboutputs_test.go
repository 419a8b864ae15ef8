package resources

import (
	"strings"
	"testing"
)

func TestValidOutputPath(t *testing.T) {
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"result.txt", true}, {"dir/sub/model.bin", true}, {"a..b/.hidden", true}, {"日本/ü.txt", true},
		{strings.Repeat("a", MaxJobOutputPath), true},
		{"", false}, {"/etc/passwd", false}, {"../x", false}, {"a/../b", false}, {"a/..", false}, {"./x", false},
		{"x/.", false}, {"a//b", false}, {"dir/", false}, {`a\b`, false}, {"a\x00b", false}, {"a\nb", false},
		{"a\x7fb", false}, {"\xff", false}, {strings.Repeat("a", MaxJobOutputPath+1), false},
	} {
		if err := ValidOutputPath(c.path); (err == nil) != c.ok {
			t.Errorf("ValidOutputPath(%q) = %v, want ok %v", c.path, err, c.ok)
		}
	}
}

// FuzzValidOutputPath: an accepted path is relative and stays under the
// outputs directory whatever joins it.
func FuzzValidOutputPath(f *testing.F) {
	for _, s := range []string{"result.txt", "a/../b", "/x", `a\b`, "a//b", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if ValidOutputPath(p) != nil {
			return
		}
		if strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || len(p) > MaxJobOutputPath {
			t.Fatalf("accepted %q", p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q (segment %q)", p, seg)
			}
		}
	})
}
