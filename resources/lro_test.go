package resources

import (
	"testing"
	"time"
)

func TestCompleteBatchFor(t *testing.T) {
	for _, c := range []struct {
		lag  time.Duration
		want int
	}{
		{-time.Second, completeBatch},
		{0, completeBatch},
		{completeLagFree, completeBatch}, // the lag of keeping up
		{completeLagFree + completeLagStep, completeBatch + 1},
		{completeLagFree + 10*completeLagStep + 5*time.Millisecond, completeBatch + 10},
		{time.Hour, completeBatchMax},
	} {
		if got := completeBatchFor(c.lag); got != c.want {
			t.Errorf("completeBatchFor(%v) = %d, want %d", c.lag, got, c.want)
		}
	}
}
