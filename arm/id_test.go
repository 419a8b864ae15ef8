package arm

import (
	"strings"
	"testing"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		path, str, typ, name, fullName, parent, collection, trailing string
		ext                                                          bool
	}{
		{path: "/subscriptions/S1", str: "/subscriptions/S1", typ: "Microsoft.Resources/subscriptions", name: "S1"},
		{path: "/subscriptions/S1/resourceGroups/RG", str: "/subscriptions/S1/resourceGroups/RG", typ: "Microsoft.Resources/resourceGroups", name: "RG", parent: "/subscriptions/S1"},
		{path: "/SUBSCRIPTIONS/s1/RESOURCEGROUPS/rg/PROVIDERS/Microsoft.MachineLearningServices/workspaces/ws1",
			str: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1",
			typ: "Microsoft.MachineLearningServices/workspaces", name: "ws1", fullName: "ws1", parent: "/subscriptions/s1/resourceGroups/rg"},
		{path: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/ci1",
			str: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/ci1",
			typ: "Microsoft.MachineLearningServices/workspaces/computes", name: "ci1", fullName: "ws1/ci1",
			parent: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1"},
		{path: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1/providers/Microsoft.Insights/diagnosticSettings/ds",
			str: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1/providers/Microsoft.Insights/diagnosticSettings/ds",
			typ: "Microsoft.Insights/diagnosticSettings", name: "ds", fullName: "ds", ext: true,
			parent: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1"},
		{path: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes",
			str: "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1",
			typ: "Microsoft.MachineLearningServices/workspaces", name: "ws1", fullName: "ws1", trailing: "computes",
			collection: "Microsoft.MachineLearningServices/workspaces/computes",
			parent:     "/subscriptions/s1/resourceGroups/rg"},
		{path: "/subscriptions/s1/providers/Microsoft.MachineLearningServices/workspaces",
			str: "/subscriptions/s1", typ: "Microsoft.Resources/subscriptions", name: "s1", trailing: "workspaces",
			collection: "Microsoft.MachineLearningServices/workspaces"},
		{path: "/subscriptions/s1/resourceGroups", str: "/subscriptions/s1", typ: "Microsoft.Resources/subscriptions", name: "s1", trailing: "resourceGroups"},
	}
	for _, tc := range tests {
		id, err := ParseID(tc.path)
		if err != nil {
			t.Fatalf("ParseID(%q): %v", tc.path, err)
		}
		if got := id.String(); got != tc.str {
			t.Errorf("ParseID(%q).String() = %q, want %q", tc.path, got, tc.str)
		}
		if got := id.Type(); got != tc.typ {
			t.Errorf("%q Type = %q, want %q", tc.path, got, tc.typ)
		}
		if got := id.Name(); got != tc.name {
			t.Errorf("%q Name = %q, want %q", tc.path, got, tc.name)
		}
		if tc.fullName != "" && id.FullName() != tc.fullName {
			t.Errorf("%q FullName = %q, want %q", tc.path, id.FullName(), tc.fullName)
		}
		if got := id.Trailing; got != tc.trailing {
			t.Errorf("%q Trailing = %q, want %q", tc.path, got, tc.trailing)
		}
		if got := id.CollectionType(); got != tc.collection {
			t.Errorf("%q CollectionType = %q, want %q", tc.path, got, tc.collection)
		}
		if id.IsExtension() != tc.ext {
			t.Errorf("%q IsExtension = %v", tc.path, id.IsExtension())
		}
		p := id.Parent()
		if (p == nil) != (tc.parent == "") || (p != nil && p.String() != tc.parent) {
			t.Errorf("%q Parent = %v, want %q", tc.path, p, tc.parent)
		}
		if id.Key() != strings.ToLower(id.String()) {
			t.Errorf("Key not lower-cased")
		}
	}
}

func TestParseIDErrors(t *testing.T) {
	for _, p := range []string{"", "subscriptions/x", "/", "/subscriptions", "/subscriptions//resourceGroups/rg",
		"/subscriptions/s/resourceGroups/rg/foo/bar", "/subscriptions/s/resourceGroups/rg/providers", "/subscriptions/s/resourceGroups/rg/providers/NS",
		"/subscriptions/s/resourceGroups/rg/providers/NS/t/..", "/subscriptions/s/resourceGroups/./providers/NS/t/n",
		"/subscriptions/s/resourceGroups/rg/providers/NS/t/n/c/../x"} {
		_, err := ParseID(p)
		e, ok := err.(*Error)
		if !ok || e.Code != "InvalidResourceId" {
			t.Errorf("ParseID(%q) = %v, want InvalidResourceId", p, err)
		}
	}
}

func TestNames(t *testing.T) {
	for _, n := range []string{"rg", "my-rg_1", "(rg).x", "ユニコード"} {
		if err := ValidateResourceGroupName(n); err != nil {
			t.Errorf("ValidateResourceGroupName(%q) = %v", n, err)
		}
	}
	for _, n := range []string{"", "rg.", "a/b", strings.Repeat("a", 91), "a b"} {
		if err := ValidateResourceGroupName(n); err == nil {
			t.Errorf("ValidateResourceGroupName(%q) accepted", n)
		}
	}
	for _, n := range []string{"a<b", "a%b", "a:b", "a?b", "", "x\x01", ".", "..", "name.", "name ", "a#b"} {
		if err := ValidateResourceName(n); err == nil {
			t.Errorf("ValidateResourceName(%q) accepted", n)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"/subscriptions/s/resourceGroups/rg/providers/A.B/t/n/c/d/providers/X.Y/e/f/action",
		"/subscriptions/s", "/providers/Microsoft.Management/managementGroups/mg", "//", "/subscriptions/s/resourceGroups"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		id, err := ParseID(p)
		if err != nil {
			return
		}
		// Round trip: the formatted ID parses to the same ID.
		s := id.String()
		if s == "" {
			return
		}
		id2, err := ParseID(s)
		if err != nil {
			t.Fatalf("ParseID(%q).String() = %q does not parse: %v", p, s, err)
		}
		if id2.String() != s || id2.Type() != id.Type() || id2.Key() != id.Key() {
			t.Fatalf("round trip of %q changed: %q vs %q", p, s, id2.String())
		}
		_ = id.Parent()
		_ = id.FullName()
		_ = id.CollectionType()
	})
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc..."},
		{"aé", 2, "a..."}, // é is two bytes: not cut in half
		{"", 0, ""},
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
