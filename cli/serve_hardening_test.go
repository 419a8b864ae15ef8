package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

func TestDiskCheck(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name        string
		free, total uint64
		err         error
		want        int
	}{
		{"plenty", 50 * gib, 100 * gib, nil, http.StatusOK},
		{"below 16 MiB on a large disk", 15 << 20, 100 * gib, nil, http.StatusServiceUnavailable},
		{"16 MiB on a large disk", 16 << 20, 100 * gib, nil, http.StatusOK},
		{"small disk, 2% free", 2 << 20, 100 << 20, nil, http.StatusOK},
		{"small disk, 0.5% free", 500 << 10, 100 << 20, nil, http.StatusServiceUnavailable},
		{"full", 0, 8 << 20, nil, http.StatusServiceUnavailable},
		{"statfs fails", 0, 0, syscall.EIO, http.StatusServiceUnavailable},
		{"not measured here", 0, 0, errors.ErrUnsupported, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			df := func(string) (uint64, uint64, error) { return tc.free, tc.total, tc.err }
			rec := httptest.NewRecorder()
			healthHandler("/data", df).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			var st diskStatus
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tc.want || (st.Status == "ok") != (tc.want == http.StatusOK) || (st.Problem == "") != (tc.want == http.StatusOK) {
				t.Errorf("healthz = %d %s, want %d", rec.Code, rec.Body, tc.want)
			}
			log, logs := testLogger()
			checkDisk("/data", df, log)
			if (logs.String() != "") != (tc.want != http.StatusOK) {
				t.Errorf("start log = %q", logs)
			}
		})
	}
}

func TestResolveStoreURL(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("fr0m-file\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	for _, tc := range []struct {
		name     string
		flag     string
		cmdline  bool
		file     string
		env      map[string]string
		want     string
		wantErr  string
		wantWarn bool
	}{
		{name: "sqlite default", want: ""},
		{name: "flag as is", flag: "postgres://u@db:5432/x", cmdline: true, want: "postgres://u@db:5432/x"},
		{name: "password on the command line warns", flag: "postgres://u:secret@db/x", cmdline: true, want: "postgres://u:secret@db/x", wantWarn: true},
		{name: "URL from MLGOV_STORE", env: map[string]string{"MLGOV_STORE": "postgres://u:secret@db/x"}, want: "postgres://u:secret@db/x"},
		{name: "password from env", flag: "postgres://u@db/x?sslmode=disable", cmdline: true, env: map[string]string{"MLGOV_STORE_PASSWORD": "p@ss:word"}, want: "postgres://u:p%40ss%3Aword@db/x?sslmode=disable"},
		{name: "password file wins", flag: "postgres://db/x", cmdline: true, file: pwFile, env: map[string]string{"MLGOV_STORE_PASSWORD": "env"}, want: "postgres://postgres:fr0m-file@db/x"},
		{name: "empty password file", flag: "postgres://db/x", file: empty, wantErr: "is empty"},
		{name: "missing password file", flag: "postgres://db/x", file: filepath.Join(dir, "nope"), wantErr: "--store-password-file"},
		{name: "password for sqlite", file: pwFile, wantErr: "not a postgres:// URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, logs := testLogger()
			got, err := resolveStoreURL(tc.flag, tc.cmdline, tc.file, func(k string) string { return tc.env[k] }, log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("= %q, %v; want %q", got, err, tc.want)
			}
			if warned := strings.Contains(logs.String(), "holds a password"); warned != tc.wantWarn {
				t.Errorf("warned = %v, want %v: %s", warned, tc.wantWarn, logs)
			}
			if strings.Contains(logs.String(), "secret") {
				t.Errorf("the log shows the password: %s", logs)
			}
		})
	}
}

func TestSecureDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "tls"), 0o755))
	must(os.Chmod(dir, 0o755))
	must(os.MkdirAll(filepath.Join(dir, "keys"), 0o750))
	must(os.MkdirAll(filepath.Join(dir, "notes"), 0o755))
	files := map[string]os.FileMode{"notes/a.txt": 0o644, "unrelated.txt": 0o644, "keys/master.key": 0o644, "mlgov.db": 0o644, "mlgov.db-wal": 0o644, "mlgov.db-shm": 0o664, "bootstrap.json": 0o600, "tls/key.pem": 0o640, "tls/cert.pem": 0o400}
	for f, m := range files {
		must(os.WriteFile(filepath.Join(dir, f), []byte("x"), m))
		must(os.Chmod(filepath.Join(dir, f), m))
	}
	log, logs := testLogger()
	must(secureDataDir(dir, log))
	for p, want := range map[string]os.FileMode{"notes": 0o755, "notes/a.txt": 0o644, "unrelated.txt": 0o644, "keys": 0o700, "keys/master.key": 0o600, ".": 0o700, "tls": 0o700, "mlgov.db": 0o600, "mlgov.db-wal": 0o600, "mlgov.db-shm": 0o600, "bootstrap.json": 0o600, "tls/key.pem": 0o600, "tls/cert.pem": 0o400} {
		fi, err := os.Stat(filepath.Join(dir, p))
		must(err)
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
	out := logs.String()
	for _, p := range []string{dir, filepath.Join(dir, "mlgov.db"), filepath.Join(dir, "tls", "key.pem")} {
		if !strings.Contains(out, fmt.Sprintf("path=%s oldMode=", p)) {
			t.Errorf("no log line for %s:\n%s", p, out)
		}
	}
	if n := strings.Count(out, "file mode fixed"); n != 8 {
		t.Errorf("%d log lines, want 8 (dir, tls, keys, master.key, db, wal, shm, key.pem):\n%s", n, out)
	}
	sticky := t.TempDir()
	must(os.Chmod(sticky, 0o777|os.ModeSticky))
	if err := secureDataDir(sticky, log); err == nil || !strings.Contains(err.Error(), "sticky") {
		t.Errorf("a sticky folder: %v, want it refused", err)
	}
	if fi, _ := os.Stat(sticky); fi.Mode().Perm() != 0o777 {
		t.Errorf("the sticky folder's mode was changed to %v", fi.Mode())
	}
}

func TestLoadMasterKey(t *testing.T) {
	dir := t.TempDir()
	log, logs := testLogger()
	noenv := func(string) string { return "" }
	k1, f1, err := loadMasterKey(dir, "", noenv, log)
	if err != nil || len(k1) != 32 || f1 != filepath.Join(dir, "keys", "master.key") {
		t.Fatalf("first start: %d bytes, %s, %v", len(k1), f1, err)
	}
	if fi, _ := os.Stat(f1); fi.Mode().Perm() != 0o600 {
		t.Errorf("master.key mode %04o", fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "master key created") {
		t.Errorf("no log line: %s", logs)
	}
	k2, _, err := loadMasterKey(dir, "", noenv, log)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second start read another key (%v)", err)
	}
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("dG9vIHNob3J0\n"), 0o600)
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"missing explicit file", filepath.Join(dir, "nope.key"), nil, "no such file"},
		{"missing file from env", "", map[string]string{"MLGOV_MASTER_KEY_FILE": filepath.Join(dir, "nope.key")}, "no such file"},
		{"short key", bad, nil, bad + ": want the base64 encoding of 32 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadMasterKey(t.TempDir(), tc.file, func(k string) string { return tc.env[k] }, log)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReadBootstrapFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"not JSON", "{\"tenantId\": \"t\",", "is damaged"},
		{"empty", "", "is damaged"},
		{"fields missing", `{"tenantId":"t","clientSecret":"s"}`, "subscriptionId, clientId missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "bootstrap.json")
			os.WriteFile(p, []byte(tc.content), 0o600)
			_, _, err := readBootstrapFile(p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q naming %s", err, tc.want, p)
			}
		})
	}
	raw, bs, err := readBootstrapFile(filepath.Join(dir, "none.json"))
	if raw != nil || bs != nil || err != nil {
		t.Errorf("missing file: %v %v %v", raw, bs, err)
	}
}

// TestServeEncryptsPlainSigningKeys: a store written before signing keys
// were encrypted (keys in plain form) is migrated at start, with a log
// line, and the server then refuses another master key.
func TestServeEncryptsPlainSigningKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "mlgov.db")
	signingKeys := func() []*store.Object {
		t.Helper()
		db, err := sqlite.Open(ctx, dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var objs []*store.Object
		if err := db.Read(ctx, func(tx store.Tx) error {
			objs, err = tx.ListObjects(ctx, authn.KindSigningKey)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return objs
	}
	{
		db, err := sqlite.Open(ctx, dbPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := authn.New(db, authn.Config{Issuer: authn.IssuerAt("https://127.0.0.1:1")}).EnsureSigningKey(ctx); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	if objs := signingKeys(); len(objs) != 1 || !bytes.Contains(objs[0].Body, []byte(`"privateKey":`)) {
		t.Fatalf("setup: want one key in plain form, got %d", len(objs))
	}
	run := func(mod func(*serveConfig)) (string, error) {
		var logs syncBuffer
		e := &env{stdin: strings.NewReader(""), stdout: &logs, stderr: &logs,
			openStore: testOpenStore}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cfg := serveConfig{dataDir: dir, listen: "127.0.0.1:0"}
		if mod != nil {
			mod(&cfg)
		}
		done := make(chan error, 1)
		go func() { done <- serve(ctx, e, cfg) }()
		for ctx.Err() == nil && !strings.Contains(logs.String(), "mlgov serving") {
			select {
			case err := <-done:
				return logs.String(), err
			case <-time.After(20 * time.Millisecond):
			}
		}
		cancel()
		err := <-done
		return logs.String(), err
	}
	if logs, err := run(nil); err != nil || !strings.Contains(logs, "were in plain form and are now encrypted") || !strings.Contains(logs, "keys=1") {
		t.Fatalf("first start: %v\n%s", err, logs)
	}
	objs := signingKeys()
	if len(objs) != 1 || bytes.Contains(objs[0].Body, []byte(`"privateKey":`)) || !bytes.Contains(objs[0].Body, []byte(`"sealedPrivateKey":`)) {
		t.Errorf("after the start the key is stored as %s", objs[0].Body)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(other, []byte("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"), 0o600)
	logs, err := run(func(c *serveConfig) { c.masterKeyFile = other })
	if err == nil || !strings.Contains(err.Error(), "another key-encryption key") || !strings.Contains(err.Error(), other) {
		t.Errorf("start with another master key: %v\n%s", err, logs)
	}
	if n := len(signingKeys()); n != 1 {
		t.Errorf("%d signing keys after the refused start, want 1", n)
	}
}
