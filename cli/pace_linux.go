package cli

import (
	"syscall"
	"time"
)

// sleepPrecise sleeps for about d with nanosleep(2), which the kernel
// ends within microseconds, unlike the runtime's timers when idle. It
// may return early (on a signal); waitUntil loops.
func sleepPrecise(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Nanosleep(&ts, nil)
}
