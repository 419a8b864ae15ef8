//go:build linux

package cli

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Network namespaces of jobs: "mlgeg{runner pid}x{n}", made and deleted
// with iproute2 (ip netns), so that they show in ip netns list.

const netnsPrefix = "mlgeg"

var netnsSeq atomic.Int64

// netnsUnavailable says why a namespace cannot be made ("": it can).
func netnsUnavailable() string {
	if os.Geteuid() != 0 {
		return "the runner is not root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "iproute2's ip is not installed"
	}
	return ""
}

func newNetns() (string, error) {
	if why := netnsUnavailable(); why != "" {
		return "", fmt.Errorf("%s", why)
	}
	name := fmt.Sprintf("%s%dx%d", netnsPrefix, os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ip netns add %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		deleteNetns(name)
		return "", fmt.Errorf("ip -n %s link set lo up: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return name, nil
}

func deleteNetns(name string) { _ = exec.Command("ip", "netns", "del", name).Run() }

// listenInNetns listens on addr inside the namespace: from a thread of
// its own moved into it (the socket stays in the namespace; the thread
// ends with the goroutine, never returning to the runner's network).
func listenInNetns(name, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread is dropped with the goroutine
		f, err := os.Open(filepath.Join("/var/run/netns", name))
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns %s: %w", name, err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	return r.ln, r.err
}

// cleanStaleNetns deletes the namespaces of runners that are gone
// (their pid no longer runs), left by a crash.
func cleanStaleNetns() int {
	if netnsUnavailable() != "" {
		return 0
	}
	ents, _ := os.ReadDir("/var/run/netns")
	n := 0
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), netnsPrefix)
		pidStr, _, found := strings.Cut(rest, "x")
		pid, err := strconv.Atoi(pidStr)
		if !ok || !found || err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == nil || syscall.Kill(pid, 0) == syscall.EPERM {
			continue // its runner still runs
		}
		deleteNetns(e.Name())
		n++
	}
	return n
}
