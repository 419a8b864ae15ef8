//go:build !linux

package cli

import "time"

// sleepPrecise falls back to the runtime's timer where there is no
// nanosleep wrapper; waitUntil's spin makes up the rest.
func sleepPrecise(d time.Duration) { time.Sleep(d) }
