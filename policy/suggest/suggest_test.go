package suggest

import (
	"slices"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"list", "lst", 1}, {"Eval", "eval", 0}, {"kitten", "sitting", 3}, {"scaleSetings", "scaleSettings", 1}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestNearest(t *testing.T) {
	names := []string{"a/scaleSettings.maxNodeCount", "a/scaleSettings.minNodeCount", "a/vmSize", "a/scaleSettings"}
	if got := Nearest("a/scaleSetings", names, 2, 5); !slices.Equal(got, []string{"a/scaleSettings"}) {
		t.Errorf("Nearest = %v", got)
	}
	if got := Nearest("a/scaleSetings.maxNodeCount", names, 2, 5); !slices.Equal(got, []string{"a/scaleSettings.maxNodeCount", "a/scaleSettings.minNodeCount"}) {
		t.Errorf("Nearest = %v", got)
	}
	if got := Nearest("zzz", names, 3, 2); got != nil {
		t.Errorf("Nearest of a far name = %v, want none", got)
	}
}
