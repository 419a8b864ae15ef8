//go:build !linux

package egress

import "time"

func sleepPrecise(d time.Duration) { time.Sleep(d) }
