package value

import (
	"fmt"
	"strings"
)

// Step is one step of a Path: either a member lookup by key (matched
// ASCII-case-insensitively) or, when Any is set, "every element of the
// array" (the [*] of an alias path).
type Step struct {
	Key string
	Any bool
}

// Path is a parsed JSON path such as properties.ipRules[*].value. Paths are
// immutable once parsed and safe for concurrent use.
type Path []Step

// HasWildcard reports whether the path selects a collection (contains [*]).
func (p Path) HasWildcard() bool {
	for _, s := range p {
		if s.Any {
			return true
		}
	}
	return false
}

// String renders the path in the dotted form it was parsed from.
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		if s.Any {
			b.WriteString("[*]")
			continue
		}
		if needsQuoting(s.Key) {
			b.WriteString("['")
			b.WriteString(strings.ReplaceAll(s.Key, "'", "''"))
			b.WriteString("']")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Key)
	}
	return b.String()
}

func needsQuoting(k string) bool {
	return k == "" || strings.ContainsAny(k, ".[]'")
}

// ParsePath parses a dotted path with optional [*] wildcards and bracketed
// keys: a.b[*].c, tags['my.tag'], tags[my tag]. Keys keep their spelling;
// lookups fold case.
func ParsePath(s string) (Path, error) {
	var p Path
	i := 0
	expectKey := true
	for i < len(s) {
		switch c := s[i]; {
		case c == '.':
			if expectKey {
				return nil, fmt.Errorf("path %q: empty segment at offset %d", s, i)
			}
			expectKey = true
			i++
			if i == len(s) {
				return nil, fmt.Errorf("path %q: ends with '.'", s)
			}
		case c == '[':
			if strings.HasPrefix(s[i:], "[*]") {
				p = append(p, Step{Any: true})
				i += 3
				expectKey = false
				continue
			}
			j := i + 1
			if j < len(s) && s[j] == '\'' {
				// quoted key with '' escapes
				var b strings.Builder
				j++
				closed := false
				for j < len(s) {
					if s[j] == '\'' {
						if j+1 < len(s) && s[j+1] == '\'' {
							b.WriteByte('\'')
							j += 2
							continue
						}
						closed = true
						j++
						break
					}
					b.WriteByte(s[j])
					j++
				}
				if !closed || j >= len(s) || s[j] != ']' {
					return nil, fmt.Errorf("path %q: unterminated quoted key at offset %d", s, i)
				}
				p = append(p, Step{Key: b.String()})
				i = j + 1
				expectKey = false
				continue
			}
			k := strings.IndexByte(s[j:], ']')
			if k < 0 {
				return nil, fmt.Errorf("path %q: unterminated '[' at offset %d", s, i)
			}
			p = append(p, Step{Key: s[j : j+k]})
			i = j + k + 1
			expectKey = false
		default:
			if !expectKey {
				return nil, fmt.Errorf("path %q: unexpected %q at offset %d", s, c, i)
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			p = append(p, Step{Key: s[i:j]})
			i = j
			expectKey = false
		}
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	return p, nil
}
