package resources

import (
	"github.com/mlgov/mlgov/arm"
)

// MaxTop is the largest $top a list accepts.
const MaxTop = 1000

// ParseTop reads $top: absent gives def; otherwise it must be a decimal
// integer from 1 to MaxTop (no sign, no spaces), and the page holds at
// most that many items (never more than def, the server's page size).
func ParseTop(raw string, present bool, def int) (int, error) {
	if !present {
		return def, nil
	}
	n := 0
	ok := raw != "" && len(raw) <= 4
	for i := 0; ok && i < len(raw); i++ {
		c := raw[i]
		ok = c >= '0' && c <= '9'
		n = n*10 + int(c-'0')
	}
	if !ok || n < 1 || n > MaxTop {
		return 0, arm.Errorf("InvalidQueryParameter", "The value '%s' of query parameter '$top' is not valid: it must be an integer from 1 to %d.", arm.Clip(raw, 64), MaxTop)
	}
	return min(n, def), nil
}
