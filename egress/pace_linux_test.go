package egress

import (
	"syscall"
	"time"
)

// sleepPrecise sleeps about d with nanosleep(2), which ends within
// microseconds, unlike the runtime's timers when idle (cli/pace.go).
func sleepPrecise(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Nanosleep(&ts, nil)
}
