package govern

import (
	"testing"
	"time"
)

func TestISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"PT10M": 10 * time.Minute, "P1D": 24 * time.Hour, "PT2S": 2 * time.Second, "P1DT2H30M15.5S": 26*time.Hour + 30*time.Minute + 15500*time.Millisecond,
		"pt1h": time.Hour, "P1W": 7 * 24 * time.Hour,
	} {
		if got, err := isoDuration(in); err != nil || got != want {
			t.Errorf("isoDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "P", "PT", "10M", "P1H", "PT1D", "PTM", "P1DT", "PT1.2.3S", "AfterProvisioning"} {
		if got, err := isoDuration(bad); err == nil {
			t.Errorf("isoDuration(%q) = %v, want an error", bad, got)
		}
	}
}
