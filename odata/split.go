package odata

import "strings"

// SplitAnd splits a simple $filter (one of the ARM APIs that take a fixed
// set of "field op 'value'" clauses rather than OData expressions: the
// activity log, the sign-in log, remediations) at " and " (any case)
// outside single-quoted values, each clause trimmed. A doubled quote (”)
// inside a value leaves it quoted.
func SplitAnd(f string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '\'':
			quoted = !quoted
		case !quoted && i+5 <= len(f) && strings.EqualFold(f[i:i+5], " and "):
			out = append(out, strings.TrimSpace(f[start:i]))
			start = i + 5
			i += 4
		}
	}
	return append(out, strings.TrimSpace(f[start:]))
}
