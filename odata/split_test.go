package odata

import (
	"slices"
	"testing"
)

func TestSplitAnd(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a eq 'x'", []string{"a eq 'x'"}},
		{" a eq 'x'  AND b ge 2 and c eq 'y' ", []string{"a eq 'x'", "b ge 2", "c eq 'y'"}},
		{"a eq 'x and y' and b eq 'it''s and'", []string{"a eq 'x and y'", "b eq 'it''s and'"}},
		{"", []string{""}},
	} {
		if got := SplitAnd(c.in); !slices.Equal(got, c.want) {
			t.Errorf("SplitAnd(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
