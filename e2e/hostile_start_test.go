package e2e

// Black-box tests of `mlgov serve` starting in a hostile environment
// (issue 9, "Hardening": findings 1, 6, 7 and part of 10): a data folder
// readable by others, the signing key at rest, a full disk, damaged or
// missing bootstrap.json and TLS files, a second replica on the same
// PostgreSQL database, TLS versions and suites, noisy failed handshakes,
// the PostgreSQL password. Every helper here is prefixed hs.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hsQuick are the serve arguments every test here adds.
var hsQuick = []string{"--signing-key-lifetime", "0"}

func hsPrepare(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("file modes and signals: unix only")
	}
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	return bin
}

func hsArgs(extra ...string) []string { return append(append([]string{}, hsQuick...), extra...) }

// hsStartFails runs `mlgov serve` expecting it to refuse to start; it
// returns the output. A server that is still running after 30 s failed
// to refuse.
func hsStartFails(t *testing.T, bin, dataDir string, args []string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append([]string{"serve", "--data", dataDir, "--listen", FreeAddr(t)}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), env...)
	dieWithParent(cmd)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("mlgov %s kept running, want it to refuse to start; output:\n%s", strings.Join(full, " "), out)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("mlgov %s: %v, want a non-zero exit; output:\n%s", strings.Join(full, " "), err, out)
	}
	return string(out)
}

// hsProc is a server started without StartServer's readiness rules (its
// bootstrap.json may lack clientSecret).
type hsProc struct {
	cmd     *exec.Cmd
	logPath string
	addr    string
	done    chan struct{}
}

func (p *hsProc) log() string { b, _ := os.ReadFile(p.logPath); return string(b) }

// hsStartBare starts `mlgov serve` and waits until bootstrap.json names
// its port and it completes TLS handshakes.
func hsStartBare(t *testing.T, bin, dataDir string, args []string, env ...string) *hsProc {
	t.Helper()
	return hsStartBareOn(t, bin, dataDir, FreeAddr(t), true, args, env...)
}

// hsStartBareOn is hsStartBare on addr; with portInBootstrap false it
// waits for bootstrap.json to exist only (with --public-url it names
// another address).
func hsStartBareOn(t *testing.T, bin, dataDir, addr string, portInBootstrap bool, args []string, env ...string) *hsProc {
	t.Helper()
	p := &hsProc{addr: addr, logPath: filepath.Join(t.TempDir(), "server.log"), done: make(chan struct{})}
	lf, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, append([]string{"serve", "--data", dataDir, "--listen", p.addr}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = lf, lf
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); lf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("server log %s:\n%s", p.logPath, p.log())
		}
	})
	_, port, _ := net.SplitHostPort(p.addr)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("server exited early:\n%s", p.log())
		default:
		}
		raw, err := os.ReadFile(filepath.Join(dataDir, "bootstrap.json"))
		if err == nil && (!portInBootstrap || bytes.Contains(raw, []byte(":"+port+`"`))) {
			if c, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true}); err == nil {
				c.Close()
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server not ready after 60s:\n%s", p.log())
	return nil
}

// hsReadBootstrap reads bootstrap.json without requiring clientSecret.
func hsReadBootstrap(t *testing.T, dataDir string) Bootstrap {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b Bootstrap
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("bootstrap.json: %v", err)
	}
	return b
}

// hsClient trusts only the certificate in caCertFile.
func hsClient(t *testing.T, caCertFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caCertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", caCertFile)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// hsDo sends an authenticated ARM request and returns the status and body.
func hsDo(t *testing.T, hc *http.Client, method, u, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// hsPostgres returns a --store URL for a fresh schema, the psql base URL
// and the schema name (skips when PostgreSQL is unreachable).
func hsPostgres(t *testing.T) (storeURL, base, schema string) {
	t.Helper()
	storeURL = crashPostgresSchema(t)
	u, err := url.Parse(storeURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema = q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return storeURL, u.String(), schema
}

// hsPSQL runs one statement with psql and returns its unaligned output.
func hsPSQL(t *testing.T, base, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", base, "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql -c %q: %v: %s", sql, err, out)
	}
	return string(out)
}

// ---- finding 1: file modes and the signing key at rest ----------------

// TestHostileStartFileModes: a data folder that already exists with mode
// 0755 ends up 0700 with every file 0600 (while serving: the SQLite WAL
// and shared-memory files too), and modes loosened between starts are
// fixed at the next start with a log line naming the path and old mode.
func TestHostileStartFileModes(t *testing.T) {
	hsPrepare(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the umask
	check := func(when string) {
		t.Helper()
		n := 0
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // a -wal or -shm file that went away
			}
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: %s has mode %04o, want no access for group and others", when, p, fi.Mode().Perm())
			}
			n++
			return nil
		})
		if n < 6 {
			t.Errorf("%s: only %d entries in %s", when, n, dir)
		}
	}
	s := StartServer(t, ServerOptions{DataDir: dir, Args: hsArgs()})
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data folder mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	for _, f := range []string{"mlgov.db", "mlgov.db-wal", "bootstrap.json", "tls/key.pem", "keys/master.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, fi.Mode().Perm())
		}
	}
	check("first start")
	s.Stop(t)

	loosened := map[string]os.FileMode{".": 0o755, "mlgov.db": 0o644, "tls/key.pem": 0o644, "keys/master.key": 0o640}
	for f, m := range loosened {
		if err := os.Chmod(filepath.Join(dir, f), m); err != nil {
			t.Fatal(err)
		}
	}
	s = StartServer(t, ServerOptions{DataDir: dir, Addr: s.Addr, Args: hsArgs()})
	check("second start")
	logs := s.LogTail(200)
	for f, m := range loosened {
		p := filepath.Clean(filepath.Join(dir, f))
		want := fmt.Sprintf("path=%s oldMode=%04o", p, m)
		if !strings.Contains(logs, want) {
			t.Errorf("no log line with %q:\n%s", want, logs)
		}
	}
	s.Stop(t)
}

// hsKeyMarkers are byte strings found in a stored RSA private key in
// plain form: the PKCS#8 header of an RSA key (version 0 and the
// rsaEncryption algorithm identifier), raw and as it appears in the
// base64 of a PKCS#8 DER, and the JSON field that held it.
var hsKeyMarkers = []struct {
	name string
	b    []byte
}{
	{"PKCS#8 RSA header (DER)", []byte{0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00}},
	{"PKCS#8 RSA header (base64)", []byte("ADANBgkqhkiG9w0BAQEFAA")},
	{`"privateKey" field`, []byte(`"privateKey":`)},
}

func hsNoKeyIn(t *testing.T, what string, data []byte) {
	t.Helper()
	for _, m := range hsKeyMarkers {
		if bytes.Contains(data, m.b) {
			t.Errorf("%s holds a signing key in plain form (%s found)", what, m.name)
		}
	}
}

// TestHostileStartSigningKeyAtRest: whoever can read the store (the
// SQLite file and its WAL, or PostgreSQL's objects table) finds no
// private signing key in plain form; a wrong master key stops the start
// with an error (no new key is made); a second replica must be given the
// same master key.
func TestHostileStartSigningKeyAtRest(t *testing.T) {
	bin := hsPrepare(t)
	t.Run("sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		s := StartServer(t, ServerOptions{DataDir: dir, Args: hsArgs("--rotate-signing-key")})
		hc := s.HTTPClient(t)
		if st, tok := clientToken(t, hc, s.Bootstrap.AuthorityHost, s.Bootstrap, s.Bootstrap.ClientSecret); st != 200 || tok == "" {
			t.Fatalf("token: %d", st)
		}
		var all []byte
		for _, f := range []string{"mlgov.db", "mlgov.db-wal"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
			hsNoKeyIn(t, f, b)
		}
		if !bytes.Contains(all, []byte(`"sealedPrivateKey"`)) {
			t.Error("no sealed signing key found in the database files: the test cannot see the store")
		}
		s.Kill(t)
		b, _ := os.ReadFile(filepath.Join(dir, "mlgov.db"))
		hsNoKeyIn(t, "mlgov.db after a crash", b)

		other := filepath.Join(t.TempDir(), "other.key")
		if err := os.WriteFile(other, []byte("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := hsStartFails(t, bin, dir, hsArgs("--master-key-file", other))
		for _, want := range []string{"another key-encryption key", other, "--master-key-file"} {
			if !strings.Contains(out, want) {
				t.Errorf("start with a wrong master key: output lacks %q:\n%s", want, out)
			}
		}
		s = StartServer(t, ServerOptions{DataDir: dir, Addr: s.Addr, Args: hsArgs()})
		if st, _ := clientToken(t, s.HTTPClient(t), s.Bootstrap.AuthorityHost, s.Bootstrap, s.Bootstrap.ClientSecret); st != 200 {
			t.Errorf("token after the refused start: %d", st)
		}
		s.Stop(t)
	})
	t.Run("postgres", func(t *testing.T) {
		storeURL, base, schema := hsPostgres(t)
		dirA := filepath.Join(t.TempDir(), "a")
		a := StartServer(t, ServerOptions{DataDir: dirA, Args: hsArgs("--store", storeURL, "--rotate-signing-key")})
		rows := hsPSQL(t, base, fmt.Sprintf("SELECT encode(body, 'escape') FROM %s.objects WHERE kind = 'signingKey'", schema))
		if strings.Count(rows, "sealedPrivateKey") != 2 {
			t.Errorf("want 2 sealed signing keys in %s.objects, got:\n%.2000s", schema, rows)
		}
		hsNoKeyIn(t, "objects (escaped)", []byte(rows))
		hex := hsPSQL(t, base, fmt.Sprintf("SELECT encode(body, 'hex') FROM %s.objects", schema))
		if strings.Contains(hex, "020100300d06092a864886f70d0101010500") {
			t.Error("objects holds a PKCS#8 RSA key in plain form")
		}
		// A second replica without the first one's master key refuses to
		// start, saying that replicas must share it.
		dirB := filepath.Join(t.TempDir(), "b")
		out := hsStartFails(t, bin, dirB, hsArgs("--store", storeURL))
		if !strings.Contains(out, "replicas sharing a store must all use the same --master-key-file") {
			t.Errorf("second replica with its own master key: output:\n%s", out)
		}
		a.Stop(t)
	})
}

// ---- finding 6: a full disk --------------------------------------------

// TestHostileStartFullDisk runs the server on a small tmpfs, fills it,
// and checks that writes fail, reads keep working, /healthz reports the
// full disk, and a restart on the full disk works (bootstrap.json is not
// rewritten). It needs root (mount); elsewhere it skips (the decision
// logic is unit-tested in cli: TestDiskCheck).
func TestHostileStartFullDisk(t *testing.T) {
	bin := hsPrepare(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		requireOrSkip(t, "full-disk test skipped: cannot mount a tmpfs (needs root): %v %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	dir := filepath.Join(mnt, "data")
	s := StartServer(t, ServerOptions{Bin: bin, DataDir: dir, Args: hsArgs()})
	b := s.Bootstrap
	hc := s.HTTPClient(t)
	st, tok := clientToken(t, hc, b.AuthorityHost, b, b.ClientSecret)
	if st != 200 {
		t.Fatalf("token: %d", st)
	}
	rg := b.Endpoint + "/subscriptions/" + b.SubscriptionID + "/resourcegroups/%s?api-version=2021-04-01"
	if st, body := hsDo(t, hc, "PUT", fmt.Sprintf(rg, "before"), tok, []byte(`{"location":"westeurope"}`)); st/100 != 2 {
		t.Fatalf("PUT before the disk is full: %d %s", st, body)
	}
	health := func(want int) {
		t.Helper()
		st, body := hsDo(t, hc, "GET", b.Endpoint+"/healthz", "", nil)
		var h struct{ Status, Problem string }
		if err := json.Unmarshal(body, &h); err != nil || st != want || (st == 200) != (h.Status == "ok") {
			t.Errorf("/healthz = %d %s, want %d with a JSON status", st, body, want)
		}
	}
	health(200)
	bootBefore, err := os.Stat(s.BootstrapPath)
	if err != nil {
		t.Fatal(err)
	}

	filler := filepath.Join(mnt, "filler")
	hsFill(t, filler)
	health(http.StatusServiceUnavailable)
	if st, body := hsDo(t, hc, "PUT", fmt.Sprintf(rg, "full-"+hsHex()), tok, bytes.Repeat([]byte(" "), 64<<10)); st/100 == 2 {
		t.Errorf("PUT on a full disk: %d %s, want an error", st, body)
	}
	if st, body := hsDo(t, hc, "GET", fmt.Sprintf(rg, "before"), tok, nil); st != 200 {
		t.Errorf("GET on a full disk: %d %s", st, body)
	}
	s.Kill(t)

	s = StartServer(t, ServerOptions{Bin: bin, DataDir: dir, Addr: s.Addr, Args: hsArgs()})
	if !strings.Contains(s.LogTail(100), "file system is full") {
		t.Errorf("the start did not report the full disk:\n%s", s.LogTail(100))
	}
	if bootAfter, err := os.Stat(s.BootstrapPath); err != nil || !bootAfter.ModTime().Equal(bootBefore.ModTime()) {
		t.Errorf("bootstrap.json was rewritten on restart (%v)", err)
	}
	hc = s.HTTPClient(t)
	if st, body := hsDo(t, hc, "GET", fmt.Sprintf(rg, "before"), tok, nil); st != 200 {
		t.Errorf("GET after a restart on a full disk: %d %s", st, body)
	}
	health(http.StatusServiceUnavailable)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	health(200)
	if st, body := hsDo(t, hc, "PUT", fmt.Sprintf(rg, "after"), tok, []byte(`{"location":"westeurope"}`)); st/100 != 2 {
		t.Errorf("PUT once space is back: %d %s", st, body)
	}
	s.Stop(t)
}

// hsFill writes path until the file system is full.
func hsFill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", path, err)
			}
			break
		}
	}
	small := make([]byte, 512)
	for {
		if _, err := f.Write(small); err != nil {
			return
		}
	}
}

func hsHex() string { return fmt.Sprintf("%x", time.Now().UnixNano()) }

// ---- finding 7: bootstrap.json -----------------------------------------

// TestHostileStartBootstrap: a damaged bootstrap.json stops the start
// (naming the file and the flag) and is left as it is; a missing one
// does not mint a secret; --reset-admin-secret issues a new secret and
// revokes the old one; a second replica on the same PostgreSQL database
// starts without minting a secret.
func TestHostileStartBootstrap(t *testing.T) {
	bin := hsPrepare(t)
	t.Run("sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		s := StartServer(t, ServerOptions{DataDir: dir, Args: hsArgs()})
		orig := s.Bootstrap
		s.Stop(t)
		path := filepath.Join(dir, "bootstrap.json")
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, content string }{
			{"truncated", string(good[:len(good)/2])},
			{"not JSON", "\x00\x00\x00garbage"},
			{"fields missing", `{"clientSecret": "x"}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
				out := hsStartFails(t, bin, dir, hsArgs())
				for _, want := range []string{path, "--reset-admin-secret"} {
					if !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
				if now, _ := os.ReadFile(path); string(now) != tc.content {
					t.Errorf("the damaged file was replaced by:\n%s", now)
				}
			})
		}

		// Missing: started without a secret, the old one still works.
		os.Remove(path)
		p := hsStartBare(t, bin, dir, hsArgs())
		b := hsReadBootstrap(t, dir)
		if b.ClientSecret != "" {
			t.Errorf("a new administrator secret was minted for a missing bootstrap.json")
		}
		if b.TenantID != orig.TenantID || b.ClientID != orig.ClientID || b.SubscriptionID != orig.SubscriptionID {
			t.Errorf("bootstrap.json %+v does not name the stored tenant/administrator", b)
		}
		if !strings.Contains(p.log(), "without clientSecret") {
			t.Errorf("no log line about the missing secret:\n%s", p.log())
		}
		hc := hsClient(t, b.CACertFile)
		if st, _ := clientToken(t, hc, b.AuthorityHost, b, orig.ClientSecret); st != 200 {
			t.Errorf("the original secret stopped working: %d", st)
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.done

		// Damaged again, recreated with the flag: a new secret, the old one revoked.
		os.WriteFile(path, []byte("{"), 0o600)
		s = StartServer(t, ServerOptions{DataDir: dir, Addr: s.Addr, Args: hsArgs("--reset-admin-secret")})
		if s.Bootstrap.ClientSecret == orig.ClientSecret || s.Bootstrap.ClientID != orig.ClientID {
			t.Errorf("--reset-admin-secret: %+v", crashRedact(s.Bootstrap))
		}
		hc = s.HTTPClient(t)
		if st, _ := clientToken(t, hc, s.Bootstrap.AuthorityHost, s.Bootstrap, s.Bootstrap.ClientSecret); st != 200 {
			t.Errorf("new secret: %d", st)
		}
		if st, _ := clientToken(t, hc, s.Bootstrap.AuthorityHost, s.Bootstrap, orig.ClientSecret); st != 401 && st != 400 {
			t.Errorf("old secret after --reset-admin-secret: %d, want it refused", st)
		}
		s.Stop(t)
		// Unchanged content is not rewritten.
		before, _ := os.Stat(path)
		time.Sleep(20 * time.Millisecond)
		s = StartServer(t, ServerOptions{DataDir: dir, Addr: s.Addr, Args: hsArgs()})
		if after, _ := os.Stat(path); !after.ModTime().Equal(before.ModTime()) {
			t.Error("bootstrap.json was rewritten although nothing changed")
		}
		s.Stop(t)

		// The bootstrap.json of another store (another administrator)
		// stops the start and is left alone.
		foreign := s.Bootstrap
		foreign.TenantID, foreign.ClientID, foreign.ClientSecret = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002", "someone-elses-secret"
		fb, _ := json.MarshalIndent(foreign, "", "  ")
		if err := os.WriteFile(path, fb, 0o600); err != nil {
			t.Fatal(err)
		}
		out := hsStartFails(t, bin, dir, hsArgs())
		for _, want := range []string{path, "belongs to another store", "--reset-admin-secret"} {
			if !strings.Contains(out, want) {
				t.Errorf("bootstrap.json of another store: output lacks %q:\n%s", want, out)
			}
		}
		if now, _ := os.ReadFile(path); !bytes.Equal(now, fb) {
			t.Error("the other store's bootstrap.json was replaced")
		}
	})
	t.Run("postgres-second-replica", func(t *testing.T) {
		storeURL, _, _ := hsPostgres(t)
		dirA := filepath.Join(t.TempDir(), "a")
		a := StartServer(t, ServerOptions{DataDir: dirA, Args: hsArgs("--store", storeURL)})
		dirB := filepath.Join(t.TempDir(), "b")
		p := hsStartBare(t, bin, dirB, hsArgs("--store", storeURL, "--master-key-file", filepath.Join(dirA, "keys", "master.key")))
		b := hsReadBootstrap(t, dirB)
		if b.ClientSecret != "" {
			t.Error("the second replica minted an administrator secret")
		}
		if b.TenantID != a.Bootstrap.TenantID || b.ClientID != a.Bootstrap.ClientID {
			t.Errorf("second replica's bootstrap.json names %s/%s, want %s/%s", b.TenantID, b.ClientID, a.Bootstrap.TenantID, a.Bootstrap.ClientID)
		}
		if !strings.Contains(p.log(), "without clientSecret") {
			t.Errorf("no log line about the missing secret:\n%s", p.log())
		}
		// The first replica's secret works against the second one.
		hc := hsClient(t, b.CACertFile)
		st, tok := clientToken(t, hc, b.Endpoint, a.Bootstrap, a.Bootstrap.ClientSecret)
		if st != 200 {
			t.Fatalf("first replica's secret at the second replica: %d", st)
		}
		if st, body := hsDo(t, hc, "GET", b.Endpoint+"/subscriptions/"+b.SubscriptionID+"/resourcegroups?api-version=2021-04-01", tok, nil); st != 200 {
			t.Errorf("list at the second replica: %d %s", st, body)
		}
		a.Stop(t)
	})
}

// ---- finding 7: TLS -----------------------------------------------------

func hsCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHostileStartTLS: the self-signed certificate is a leaf for the
// served names; TLS below 1.2 and CBC suites are refused, --tls-min 1.3
// refuses 1.2; a damaged key.pem stops the start (naming it) and is not
// replaced; --regenerate-tls replaces it; failed handshakes are logged
// structured and rate-limited.
func TestHostileStartTLS(t *testing.T) {
	bin := hsPrepare(t)
	dir := filepath.Join(t.TempDir(), "data")
	s := StartServer(t, ServerOptions{DataDir: dir, Args: hsArgs()})
	c := hsCert(t, s.Bootstrap.CACertFile)
	if c.IsCA || c.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("self-signed certificate: IsCA %v, KeyUsage %b; want a leaf", c.IsCA, c.KeyUsage)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d > 397*24*time.Hour {
		t.Errorf("valid for %v, want at most 397 days", d)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("ExtKeyUsage %v", c.ExtKeyUsage)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := c.VerifyHostname(h); err != nil {
			t.Errorf("%v", err)
		}
	}
	pool, _ := s.Bootstrap.CertPool()
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"TLS 1.2 ECDHE-ECDSA-AES128-GCM", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 ECDHE-ECDSA-CHACHA20", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, true},
		{"TLS 1.2 ECDHE-ECDSA-AES128-CBC-SHA", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"TLS 1.2 ECDHE-ECDSA-AES256-CBC-SHA", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg.Clone()
			cfg.RootCAs, cfg.ServerName = pool, "127.0.0.1"
			conn, err := tls.Dial("tcp", s.Addr, cfg)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("handshake error %v, want success %v", err, tc.ok)
			}
		})
	}

	// 300 handshakes that fail (a client that does not trust the
	// certificate) give a few structured log lines.
	before := strings.Count(s.LogTail(100000), "\n")
	for range 300 {
		if conn, err := tls.Dial("tcp", s.Addr, &tls.Config{ServerName: "127.0.0.1"}); err == nil {
			conn.Close()
			t.Fatal("handshake succeeded without trusting the certificate")
		}
	}
	time.Sleep(200 * time.Millisecond)
	all := strings.Split(s.LogTail(100000), "\n")
	var hs []string
	for _, l := range all[min(before, len(all)):] {
		if strings.Contains(l, "handshake") {
			hs = append(hs, l)
		}
	}
	// At most 10 a minute; 20 leaves room for a minute boundary during
	// the test on a slow machine (without the limit: 300).
	if len(hs) == 0 || len(hs) > 20 {
		t.Errorf("%d handshake log lines for 300 failed handshakes, want 1..20:\n%s", len(hs), strings.Join(hs, "\n"))
	}
	for _, l := range hs {
		if !strings.Contains(l, `msg="TLS handshake failed"`) || !strings.Contains(l, "remote=127.0.0.1:") || !strings.Contains(l, "err=") {
			t.Errorf("handshake log line not structured: %s", l)
		}
	}
	s.Stop(t)

	t.Run("tls-min 1.3", func(t *testing.T) {
		s := StartServer(t, ServerOptions{DataDir: dir, Addr: s.Addr, Args: hsArgs("--tls-min", "1.3")})
		if conn, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12}); err == nil {
			conn.Close()
			t.Error("TLS 1.2 accepted with --tls-min 1.3")
		}
		s.Stop(t)
		out := hsStartFails(t, bin, dir, hsArgs("--tls-min", "1.1"))
		if !strings.Contains(out, "--tls-min") {
			t.Errorf("--tls-min 1.1: %s", out)
		}
	})

	t.Run("damaged key", func(t *testing.T) {
		keyFile := filepath.Join(dir, "tls", "key.pem")
		certBefore, _ := os.ReadFile(s.Bootstrap.CACertFile)
		if err := os.WriteFile(keyFile, []byte("-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5\n-----END EC PRIVATE KEY-----\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := hsStartFails(t, bin, dir, hsArgs())
		for _, want := range []string{keyFile, "--regenerate-tls"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if now, _ := os.ReadFile(s.Bootstrap.CACertFile); !bytes.Equal(now, certBefore) {
			t.Error("the certificate was replaced although the start was refused")
		}
		s2 := StartServer(t, ServerOptions{DataDir: dir, Addr: s.Addr, Args: hsArgs("--regenerate-tls")})
		if now, _ := os.ReadFile(s2.Bootstrap.CACertFile); bytes.Equal(now, certBefore) {
			t.Error("--regenerate-tls kept the old certificate")
		}
		if !strings.Contains(s2.LogTail(100), "regenerating the self-signed TLS key") {
			t.Errorf("no log line for the regeneration:\n%s", s2.LogTail(100))
		}
		s2.Stop(t)
	})
}

// ---- finding 10 (part): the PostgreSQL password ------------------------

// TestHostileStartStorePassword: the store URL from MLGOV_STORE and the
// password from --store-password-file keep the password out of the
// process's command line, and the server does use that store; a password
// written in --store is accepted with a warning.
func TestHostileStartStorePassword(t *testing.T) {
	hsPrepare(t)
	storeURL, base, schema := hsPostgres(t)
	const pw = "hs-Pa55word-not-on-cmdline"
	pwFile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	s := StartServer(t, ServerOptions{DataDir: dir, Args: hsArgs("--store-password-file", pwFile), Env: []string{"MLGOV_STORE=" + storeURL}})
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.cmd.Process.Pid))
	if err == nil && bytes.Contains(cmdline, []byte(pw)) {
		t.Errorf("the password is on the command line: %q", cmdline)
	}
	if n := strings.TrimSpace(hsPSQL(t, base, fmt.Sprintf("SELECT count(*) FROM %s.objects WHERE kind = 'bootstrap'", schema))); n != "1" {
		t.Errorf("the server did not use the store from MLGOV_STORE (bootstrap objects in %s: %s)", schema, n)
	}
	if _, err := os.Stat(filepath.Join(dir, "mlgov.db")); err == nil {
		t.Error("the server opened SQLite instead of MLGOV_STORE")
	}
	if strings.Contains(s.LogTail(200), pw) {
		t.Error("the password is in the log")
	}
	s.Stop(t)

	u, _ := url.Parse(storeURL)
	u.User = url.UserPassword("postgres", pw)
	s = StartServer(t, ServerOptions{DataDir: dir, Addr: s.Addr, Args: hsArgs("--store", u.String())})
	if !strings.Contains(s.LogTail(200), "holds a password") {
		t.Errorf("no warning for a password in --store:\n%s", s.LogTail(200))
	}
	s.Stop(t)
}
