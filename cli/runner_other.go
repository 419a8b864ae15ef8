//go:build !unix

package cli

import "os/exec"

func setProcessGroup(*exec.Cmd) {}

// stopProcessGroup kills the job's process (its children may remain).
func stopProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
