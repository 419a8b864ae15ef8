//go:build unix

package cli

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the job's subprocess in a process group of its
// own, so that a cancel stops what it started too.
func setProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// stopProcessGroup kills the job's process group.
func stopProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
