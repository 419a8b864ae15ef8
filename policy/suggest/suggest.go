// Package suggest finds what a mistyped name may have meant: the names
// nearest to it by edit distance, for "did you mean" messages.
package suggest

import (
	"cmp"
	"slices"
	"strings"
)

// Distance is the Levenshtein distance of a and b, compared byte by byte
// ignoring ASCII case.
func Distance(a, b string) int {
	a, b = strings.ToLower(a), strings.ToLower(b)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Nearest returns up to n of names within maxDist edits of typed, the
// nearest first (ties in the order of names).
func Nearest(typed string, names []string, n, maxDist int) []string {
	type cand struct {
		name string
		d, i int
	}
	var cs []cand
	for i, name := range names {
		if d := Distance(typed, name); d <= maxDist {
			cs = append(cs, cand{name, d, i})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.i, b.i)) })
	var out []string
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.name)
	}
	return out
}
