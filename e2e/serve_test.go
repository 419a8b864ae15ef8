package e2e

// Shared helpers for end-to-end tests: build mlgov once, pick a free loopback
// port, start `mlgov serve --data DIR --listen ADDR`, wait until it has
// written a valid DIR/bootstrap.json and accepts TLS connections, and stop it
// (SIGTERM, expecting a clean exit) or kill it (for crash tests).
//
// Environment:
//   MLGOV_E2E_BIN      use this mlgov binary instead of building ./cmd/mlgov
//   MLGOV_E2E_REQUIRE  "1": turn "cannot run here" skips into failures
//   MLGOV_E2E_KEEP     "1": keep the server's data directory and log after the test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bootstrap is DIR/bootstrap.json, written by `mlgov serve` on first start.
type Bootstrap struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
	Endpoint       string `json:"endpoint"`
	AuthorityHost  string `json:"authorityHost"`
	CACertFile     string `json:"caCertFile"`
}

// ReadBootstrap reads and validates a bootstrap file.
func ReadBootstrap(path string) (Bootstrap, error) {
	var b Bootstrap
	raw, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, fmt.Errorf("%s: %w", path, err)
	}
	return b, b.Validate()
}

// Validate checks the fields every client relies on.
func (b Bootstrap) Validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"tenantId", b.TenantID}, {"subscriptionId", b.SubscriptionID}, {"clientId", b.ClientID},
		{"clientSecret", b.ClientSecret}, {"endpoint", b.Endpoint}, {"authorityHost", b.AuthorityHost},
		{"caCertFile", b.CACertFile},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("bootstrap: %s is empty", f.name))
		}
	}
	for _, f := range []struct{ name, value string }{{"endpoint", b.Endpoint}, {"authorityHost", b.AuthorityHost}} {
		if f.value == "" {
			continue
		}
		u, err := url.Parse(f.value)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("bootstrap: %s %q is not an https URL", f.name, f.value))
		}
	}
	if b.CACertFile != "" && !filepath.IsAbs(b.CACertFile) {
		errs = append(errs, fmt.Errorf("bootstrap: caCertFile %q is not an absolute path", b.CACertFile))
	}
	return errors.Join(errs...)
}

// CertPool returns a pool holding the certificate(s) of CACertFile.
func (b Bootstrap) CertPool() (*x509.CertPool, error) {
	pem, err := os.ReadFile(b.CACertFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("caCertFile %s holds no PEM certificate", b.CACertFile)
	}
	return pool, nil
}

// requireOrSkip skips the test, or fails it when MLGOV_E2E_REQUIRE=1.
func requireOrSkip(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("MLGOV_E2E_REQUIRE") == "1" {
		t.Fatalf("MLGOV_E2E_REQUIRE=1 but: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot is the module root (the directory holding go.mod above e2e/).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("cannot find the module root from %s: %v", dir, err)
	}
	return dir
}

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// MLGovBinary returns the path of an mlgov binary built from this checkout
// (once per test process), or $MLGOV_E2E_BIN when set.
func MLGovBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("MLGOV_E2E_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	root := RepoRoot(t)
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "mlgov-e2e-bin-")
		if build.err != nil {
			return
		}
		name := "mlgov"
		if runtime.GOOS == "windows" {
			name += ".exe"
		}
		build.bin = filepath.Join(build.dir, name)
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/mlgov")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/mlgov: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// TestMain removes the binary built by MLGovBinary.
func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// RequireServe skips (or, with MLGOV_E2E_REQUIRE=1, fails) when the binary
// has no serve command yet.
func RequireServe(t testing.TB, bin string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--listen") || !strings.Contains(string(out), "--data") {
		requireOrSkip(t, "%s has no usable `serve` command yet (serve --help: %v)\n%s", bin, err, bytes.TrimSpace(out))
	}
}

// FreeAddr returns 127.0.0.1:PORT for a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no free loopback port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ServerOptions configure StartServer. Zero values mean: a fresh temporary
// data directory, a free loopback port, the built binary, 60 s to start.
type ServerOptions struct {
	Bin          string        // mlgov binary; default MLGovBinary
	DataDir      string        // --data; reuse one to test restarts
	Addr         string        // --listen
	Args         []string      // extra arguments after serve --data DIR --listen ADDR
	Env          []string      // extra environment (KEY=VALUE)
	StartTimeout time.Duration // how long to wait for bootstrap.json and the port
}

// Server is a running `mlgov serve`.
type Server struct {
	Bin           string
	DataDir       string
	Addr          string
	LogPath       string
	BootstrapPath string
	Bootstrap     Bootstrap

	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	waitErr error
}

// StartServer starts `mlgov serve` and waits until it is ready: bootstrap.json
// exists (mode 0600), is complete and names this server's port, and a TLS
// handshake that trusts only caCertFile succeeds. The server is killed at the
// end of the test if the test did not stop it; its log is printed if the test
// failed.
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	if opts.Bin == "" {
		opts.Bin = MLGovBinary(t)
	}
	keep := os.Getenv("MLGOV_E2E_KEEP") == "1"
	scratch := t.TempDir()
	if keep {
		var err error
		if scratch, err = os.MkdirTemp("", "mlgov-e2e-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("MLGOV_E2E_KEEP=1: server files kept in %s", scratch)
	}
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(scratch, "data")
	}
	if opts.Addr == "" {
		opts.Addr = FreeAddr(t)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	s := &Server{
		Bin:           opts.Bin,
		DataDir:       opts.DataDir,
		Addr:          opts.Addr,
		LogPath:       filepath.Join(scratch, fmt.Sprintf("server-%d.log", time.Now().UnixNano())),
		BootstrapPath: filepath.Join(opts.DataDir, "bootstrap.json"),
		done:          make(chan struct{}),
	}
	logFile, err := os.Create(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	s.logFile = logFile
	args := append([]string{"serve", "--data", s.DataDir, "--listen", s.Addr}, opts.Args...)
	s.cmd = exec.Command(s.Bin, args...)
	s.cmd.Env = append(os.Environ(), opts.Env...)
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	dieWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s %s: %v", s.Bin, strings.Join(args, " "), err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Logf("started %s %s (pid %d, log %s)", s.Bin, strings.Join(args, " "), s.cmd.Process.Pid, s.LogPath)
	t.Cleanup(func() {
		if !s.Exited() {
			s.cmd.Process.Kill()
			<-s.done
		}
		s.logFile.Close()
		if t.Failed() {
			t.Logf("server log (%s), last lines:\n%s", s.LogPath, s.LogTail(80))
		}
	})
	if err := s.waitReady(opts.StartTimeout); err != nil {
		t.Fatalf("mlgov serve did not become ready: %v\nserver log:\n%s", err, s.LogTail(80))
	}
	return s
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if s.Exited() {
			return fmt.Errorf("the server exited early: %v", s.waitErr)
		}
		if last = s.checkReady(); last == nil {
			return nil
		}
		var fatal fatalErr
		if errors.As(last, &fatal) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %v", timeout, last)
}

// fatalErr marks readiness errors that waiting will not fix.
type fatalErr struct{ error }

func (s *Server) checkReady() error {
	fi, err := os.Stat(s.BootstrapPath)
	if err != nil {
		return err
	}
	b, err := ReadBootstrap(s.BootstrapPath)
	if err != nil {
		return err // possibly half written; try again
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		return fatalErr{fmt.Errorf("%s has mode %v, want 0600 (it holds a client secret)", s.BootstrapPath, fi.Mode().Perm())}
	}
	u, _ := url.Parse(b.Endpoint)
	if _, port, _ := net.SplitHostPort(s.Addr); u.Port() != port {
		return fatalErr{fmt.Errorf("bootstrap endpoint %s does not name the port of --listen %s", b.Endpoint, s.Addr)}
	}
	pool, err := b.CertPool()
	if err != nil {
		return fatalErr{err}
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", s.Addr, &tls.Config{
		RootCAs:    pool,
		ServerName: u.Hostname(),
		MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		var verr *tls.CertificateVerificationError
		if errors.As(err, &verr) {
			return fatalErr{fmt.Errorf("TLS to %s with only %s trusted: %w", s.Addr, b.CACertFile, err)}
		}
		return err // not listening yet
	}
	conn.Close()
	s.Bootstrap = b
	return nil
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and requires a clean exit (status 0) within 30 s.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.Exited() {
		t.Errorf("mlgov serve had already exited before Stop: %v", s.waitErr)
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM to mlgov serve: %v", err)
	}
	select {
	case <-s.done:
		if s.waitErr != nil {
			t.Errorf("mlgov serve did not exit cleanly after SIGTERM: %v\nserver log:\n%s", s.waitErr, s.LogTail(40))
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("mlgov serve did not exit within 30s of SIGTERM; killed it\nserver log:\n%s", s.LogTail(40))
	}
}

// Kill ends the server with SIGKILL (a crash) and waits for it.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if !s.Exited() {
		s.cmd.Process.Kill()
	}
	<-s.done
}

// HTTPClient returns a client that trusts only the server's CA.
func (s *Server) HTTPClient(t testing.TB) *http.Client {
	t.Helper()
	pool, err := s.Bootstrap.CertPool()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			Proxy:           nil,
		},
	}
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	raw, err := os.ReadFile(s.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", s.LogPath, err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// lineLogger is an io.Writer that passes each complete line to t.Log, so a
// child process's output streams with `go test -v` and shows with failures.
type lineLogger struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func newLineLogger(t testing.TB, prefix string) *lineLogger { return &lineLogger{t: t, prefix: prefix} }

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Log(w.prefix + string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Flush logs a trailing partial line.
func (w *lineLogger) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.t.Log(w.prefix + string(w.buf))
		w.buf = nil
	}
}

var _ io.Writer = (*lineLogger)(nil)

// clientToken asks endpoint for a token with a client secret and returns the
// HTTP status and the access token.
func clientToken(t testing.TB, hc *http.Client, endpoint string, b Bootstrap, secret string) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {b.ClientID}, "client_secret": {secret},
		"scope": {"https://management.azure.com/.default"}}
	resp, err := hc.Post(strings.TrimRight(endpoint, "/")+"/"+b.TenantID+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(raw, &tok)
	return resp.StatusCode, tok.AccessToken
}
