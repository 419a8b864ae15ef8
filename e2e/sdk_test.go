package e2e

// TestSDKCompatibility runs the Node test suite in e2e/sdk — the real
// @azure/identity, @azure/arm-resources and @azure/arm-machinelearning
// packages, pinned by e2e/sdk/package-lock.json — against a freshly started
// `mlgov serve`.
//
// Environment (besides those of serve_test.go):
//   MLGOV_E2E_SDK_TESTS  space-separated test files (relative to e2e/sdk) to
//                        run instead of all of them, e.g. "test/token.test.mjs"
//   MLGOV_E2E_POLL_MS    LRO polling interval the Node tests use (default 100)
//   MLGOV_E2E_VERBOSE    "1": stream node's spec-reporter output as it runs
//
// Each Node test becomes a Go subtest named file/suite/test, so `go test -v`
// and the repository's test summary list every SDK operation that passed or
// failed; node's full output is logged when anything failed.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// minNodeMajor is the oldest Node.js the pinned packages run on here. (The
// newest @azure/identity and @azure/arm-resources declare engines >=22, but
// they load and pass on Node 20, the version the project's machines carry.)
const minNodeMajor = 20

// builtinArgs loads the Machine Learning built-ins and the ML alias
// catalog from the reference data beside the checkout (read in place), for
// the policy tests; without it those tests fail and say why.
func builtinArgs(t testing.TB) []string {
	shared := filepath.Join(RepoRoot(t), "..", "shared")
	ml := filepath.Join(shared, "corpus", "azure-policy", "policyDefinitions", "Machine Learning")
	aliases := filepath.Join(shared, "corpus", "aliases", "Microsoft.MachineLearningServices.json")
	if _, err := os.Stat(ml); err != nil {
		t.Logf("no built-ins at %s: the policy tests will fail (%v)", ml, err)
		return nil
	}
	return []string{"--policy-definitions", ml, "--aliases", aliases, "--role-definitions", filepath.Join(shared, "corpus", "rbac", "builtin-roles.json")}
}

func TestSDKCompatibility(t *testing.T) {
	node := lookTool(t, "node")
	npm := lookTool(t, "npm")
	checkNodeVersion(t, node)

	sdkDir, err := filepath.Abs("sdk")
	if err != nil {
		t.Fatal(err)
	}
	installNodeModules(t, npm, sdkDir)

	bin := MLGovBinary(t)
	RequireServe(t, bin)
	srv := StartServer(t, ServerOptions{Bin: bin, Args: builtinArgs(t)})
	t.Logf("mlgov serve ready at %s (bootstrap %s)", srv.Bootstrap.Endpoint, srv.BootstrapPath)

	runNodeTests(t, node, sdkDir, nodeEnv(srv), strings.Fields(os.Getenv("MLGOV_E2E_SDK_TESTS")), srv)
}

// runNodeTests runs `node --test` in dir (over files, or node's default
// test files) with env, turns each Node test into a Go subtest, stops srv
// when node is done, and fails t with node's output when anything failed.
// With MLGOV_E2E_VERBOSE=1 node's spec output streams as it runs.
func runNodeTests(t *testing.T, node, dir string, env, files []string, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), budget(t, 15*time.Minute))
	defer cancel()
	// Two reporters: events-reporter.mjs writes one JSON line per finished
	// test to stdout (each becomes a Go subtest below); spec goes to stderr
	// with node's own diagnostics, kept for failure reports.
	reporter, err := filepath.Abs(filepath.Join("sdk", "lib", "events-reporter.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--test",
		"--test-reporter=" + reporter, "--test-reporter-destination=stdout",
		"--test-reporter=spec", "--test-reporter-destination=stderr"}
	args = append(args, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 10 * time.Second
	dieWithParent(cmd)
	var spec lockedBuffer
	if os.Getenv("MLGOV_E2E_VERBOSE") == "1" {
		ll := newLineLogger(t, "node: ")
		defer ll.Flush()
		cmd.Stderr = io.MultiWriter(&spec, ll)
	} else {
		cmd.Stderr = &spec
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	counts := reportNodeTests(t, stdout)
	runErr := cmd.Wait()

	srv.Stop(t)

	t.Logf("node tests: %d passed, %d failed, %d skipped, %d cancelled", counts["pass"], counts["fail"], counts["skip"]+counts["todo"], counts["cancelled"])
	switch {
	case ctx.Err() != nil:
		t.Errorf("node --test did not finish in time: %v", ctx.Err())
	case runErr != nil && counts["fail"] == 0:
		t.Errorf("node --test failed (%v) without reporting a failing test", runErr)
	case runErr == nil && counts["fail"] > 0:
		t.Errorf("node --test exited 0 but reported %d failures", counts["fail"])
	case counts["pass"] == 0 && counts["fail"] == 0:
		t.Errorf("node --test ran no test")
	}
	if t.Failed() {
		t.Logf("node --test output (spec reporter and stderr):\n%s", tailLines(spec.String(), 300))
	}
}

// nodeTestEvent is one line of lib/events-reporter.mjs.
type nodeTestEvent struct {
	Path       []string `json:"path"`
	Status     string   `json:"status"` // pass, fail, skip, todo, cancelled
	Suite      bool     `json:"suite"`
	DurationMs float64  `json:"durationMs"`
	Error      string   `json:"error"`
	Stack      string   `json:"stack"`
}

// reportNodeTests turns each reported Node test into a Go subtest, as the
// events arrive, and returns the number of tests per status.
func reportNodeTests(t *testing.T, r io.Reader) map[string]int {
	counts := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 8*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev nodeTestEvent
		if err := json.Unmarshal(line, &ev); err != nil || len(ev.Path) == 0 {
			t.Logf("node: %s", line)
			continue
		}
		counts[ev.Status]++
		names := make([]string, len(ev.Path))
		for i, p := range ev.Path {
			names[i] = strings.ReplaceAll(p, "/", "-")
		}
		name := strings.Join(names, "/")
		if ev.Suite {
			name += "/(suite)"
		}
		t.Run(name, func(t *testing.T) {
			switch ev.Status {
			case "pass":
			case "skip", "todo":
				t.Skipf("%s in node: %s", ev.Status, ev.Error)
			case "cancelled":
				t.Skipf("cancelled in node because its suite failed (see the (suite) failure)")
			default:
				msg := ev.Error
				if st := relevantStack(ev.Stack); st != "" {
					msg += "\n" + st
				}
				t.Errorf("%s", msg)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Errorf("reading node's test events: %v", err)
	}
	return counts
}

// relevantStack keeps the stack lines that point into the test sources
// (e2e/sdk, e2e/ui).
func relevantStack(stack string) string {
	var keep []string
	for _, l := range strings.Split(stack, "\n") {
		if (strings.Contains(l, "/e2e/sdk/") || strings.Contains(l, "/e2e/ui/")) && !strings.Contains(l, "/node_modules/") {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	return strings.Join(keep, "\n")
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lookTool finds an executable on PATH or skips the test.
func lookTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		requireOrSkip(t, "%s is not installed (needed for the Azure SDK compatibility suite): %v", name, err)
	}
	return p
}

func checkNodeVersion(t testing.TB, node string) {
	t.Helper()
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err != nil {
		t.Fatalf("cannot parse node version %q", out)
	}
	if major < minNodeMajor {
		requireOrSkip(t, "node %s is older than %d, which the pinned Azure SDK packages need", v, minNodeMajor)
	}
}

// installNodeModules runs `npm ci` (or `npm install` without a lock file) in
// dir, unless node_modules already matches package.json and the lock file.
func installNodeModules(t testing.TB, npm, dir string) {
	t.Helper()
	lock := filepath.Join(dir, "package-lock.json")
	hasLock := true
	if _, err := os.Stat(lock); errors.Is(err, os.ErrNotExist) {
		hasLock = false
	}
	stamp := filepath.Join(dir, "node_modules", ".mlgov-e2e-installed")
	want := installKey(t, dir, hasLock)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		t.Logf("node_modules is up to date with package-lock.json; skipping npm ci")
		return
	}
	args := []string{"ci", "--no-audit", "--no-fund", "--loglevel=error"}
	if !hasLock {
		args = []string{"install", "--no-audit", "--no-fund", "--loglevel=error"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget(t, 10*time.Minute))
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_engine_strict=false")
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	t.Logf("npm %s in %s took %v", args[0], dir, time.Since(start).Round(time.Millisecond))
	if err := os.WriteFile(stamp, []byte(installKey(t, dir, hasLock)), 0o644); err != nil {
		t.Logf("cannot write %s: %v", stamp, err)
	}
}

// installKey identifies the dependency set: package.json and the lock file.
func installKey(t testing.TB, dir string, hasLock bool) string {
	t.Helper()
	h := sha256.New()
	files := []string{"package.json"}
	if hasLock {
		files = append(files, "package-lock.json")
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(f + "\x00"))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// nodeEnv is the environment of the Node tests: the caller's, minus settings
// that would send the SDKs elsewhere, plus the bootstrap file and the CA.
func nodeEnv(srv *Server) []string {
	env := clientEnv(func(k string) bool {
		return k == "MLGOV_BOOTSTRAP" || k == "NODE_TEST_CONTEXT"
	})
	return append(env, "MLGOV_BOOTSTRAP="+srv.BootstrapPath, "NODE_EXTRA_CA_CERTS="+srv.Bootstrap.CACertFile)
}

// clientEnv is the caller's environment for a client of the test server:
// without the AZURE_ settings (e.g. AZURE_AUTHORITY_HOST,
// AZURE_REGIONAL_AUTHORITY_NAME) and NODE_EXTRA_CA_CERTS, which would send
// the SDKs elsewhere or trust another CA, and without what drop names;
// with the loopback addresses kept off any proxy (curl and the SDKs
// honour https_proxy).
func clientEnv(drop func(k string) bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AZURE_") || k == "NODE_EXTRA_CA_CERTS" || k == "NO_PROXY" || k == "no_proxy" || drop(k) {
			continue
		}
		env = append(env, kv)
	}
	noProxy := "127.0.0.1,localhost,::1"
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		if v := os.Getenv(k); v != "" {
			noProxy = v + "," + noProxy
			break
		}
	}
	return append(env, "NO_PROXY="+noProxy, "no_proxy="+noProxy)
}

// budget is max, shortened to leave a minute before the go test deadline
// (a test's; a benchmark has none).
func budget(t testing.TB, max time.Duration) time.Duration {
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		d, ok := dt.Deadline()
		if !ok {
			return max
		}
		if left := time.Until(d) - time.Minute; left < max {
			if left < 10*time.Second {
				left = 10 * time.Second
			}
			return left
		}
	}
	return max
}
