package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill the started server if the test process
// dies without cleaning up (a go test timeout, ^C, a killed CI job), so that
// no orphaned `mlgov serve` keeps running.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
