package cli

// The data directory's files and keys at start: modes, the master key,
// the store's password, free disk space.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// secureDataDir makes the data directory 0700 and the files mlgov keeps
// in it 0600 (its tls and keys folders 0700), logging each change with
// the path and old mode. Only mlgov's own files are touched (mlgov.db*,
// bootstrap.json, leftovers of atomic writes, tls/, keys/), so a
// --data folder shared with other files does not get them changed; a
// shared folder such as /tmp (sticky bit) is refused.
func secureDataDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("checking the data directory: %w", err)
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		return fmt.Errorf("--data %s is a shared folder (sticky bit set, like /tmp): give mlgov a folder of its own", dir)
	}
	fix := func(p string, fi fs.FileInfo, want fs.FileMode) error {
		if old := fi.Mode().Perm(); old&0o077 != 0 {
			if err := os.Chmod(p, want); err != nil {
				return fmt.Errorf("%s has mode %04o (open to other users) and cannot be fixed: %w", p, old, err)
			}
			log.Warn("file mode fixed: it was open to other users", "path", p, "oldMode", fmt.Sprintf("%04o", old), "mode", fmt.Sprintf("%04o", want))
		}
		return nil
	}
	if err := fix(dir, fi, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checking the data directory: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir() && (e.Name() == "tls" || e.Name() == "keys"):
			err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
				if err != nil {
					return fmt.Errorf("checking the data directory: %w", err)
				}
				want := fs.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				} else if !d.Type().IsRegular() {
					return nil
				}
				fi, err := d.Info()
				if err != nil {
					return fmt.Errorf("checking the data directory: %w", err)
				}
				return fix(q, fi, want)
			})
		case e.Type().IsRegular() && (strings.HasPrefix(e.Name(), "mlgov.db") || e.Name() == "bootstrap.json" || strings.HasPrefix(e.Name(), ".tmp-")):
			var fi fs.FileInfo
			if fi, err = e.Info(); err == nil {
				err = fix(p, fi, 0o600)
			} else if errors.Is(err, fs.ErrNotExist) {
				err = nil // a -wal or -shm that went away
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// resolveStoreURL returns the store URL: --store, else env MLGOV_STORE.
// A PostgreSQL password comes from --store-password-file or env
// MLGOV_STORE_PASSWORD (put into the URL in memory only) or PGPASSWORD
// (read by the driver), so that it need not be visible in ps; a password
// written into --store itself is accepted with a warning.
func resolveStoreURL(flagURL string, onCmdline bool, passwordFile string, getenv func(string) string, log *slog.Logger) (string, error) {
	raw := flagURL
	if raw == "" {
		raw, onCmdline = getenv("MLGOV_STORE"), false
	}
	isPG := strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://")
	var u *url.URL
	if isPG {
		var err error
		if u, err = url.Parse(raw); err != nil {
			return "", fmt.Errorf("store URL: %w", redactURLError(err))
		}
		if _, has := u.User.Password(); has && onCmdline {
			log.Warn("the --store URL holds a password, visible to every local user in the process list; use --store-password-file, MLGOV_STORE_PASSWORD or PGPASSWORD, or pass the URL in MLGOV_STORE")
		}
	}
	pw, from := "", ""
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return "", fmt.Errorf("--store-password-file: %w", err)
		}
		pw, from = strings.TrimRight(string(b), "\r\n"), "--store-password-file"
		if pw == "" {
			return "", fmt.Errorf("--store-password-file %s is empty", passwordFile)
		}
	} else if v := getenv("MLGOV_STORE_PASSWORD"); v != "" {
		pw, from = v, "MLGOV_STORE_PASSWORD"
	}
	if from == "" {
		return raw, nil
	}
	if !isPG {
		return "", fmt.Errorf("%s is set but the store is not a postgres:// URL", from)
	}
	user := "postgres"
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, pw)
	return u.String(), nil
}

// redactURLError drops the URL (which may hold a password) from a parse error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// StoreFile is the SQLite database serve opens in the data directory
// dataDir when no --store is given (cmd/mlgov opens it; serve puts the
// compliance records beside it, in the same name with -compliance before
// .db). Tools that write into a stopped server's store open this file.
func StoreFile(dataDir string) string { return filepath.Join(dataDir, "mlgov.db") }

// masterKeyLen is the size of the key-encryption key (AES-256).
const masterKeyLen = 32

// loadMasterKey reads the key that encrypts the token signing keys in the
// store: --master-key-file, else env MLGOV_MASTER_KEY_FILE, else
// DIR/keys/master.key, which is created (0600, 32 random bytes in base64)
// when missing. An explicitly named file must exist.
func loadMasterKey(dataDir, file string, getenv func(string) string, log *slog.Logger) ([]byte, string, error) {
	explicit := true
	if file == "" {
		file = getenv("MLGOV_MASTER_KEY_FILE")
	}
	if file == "" {
		file, explicit = filepath.Join(dataDir, "keys", "master.key"), false
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		key := make([]byte, masterKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, "", err
		}
		if err := writeFileAtomic(file, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, "", fmt.Errorf("creating the master key %s: %w", file, err)
		}
		log.Info("master key created: it encrypts the token signing keys in the store; keep it with the data (replicas sharing a store need the same file)", "masterKeyFile", file)
		return key, file, nil
	} else if err != nil {
		return nil, "", fmt.Errorf("master key (--master-key-file, MLGOV_MASTER_KEY_FILE): %w", err)
	}
	if fi, err := os.Stat(file); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the master key file is readable by other users", "masterKeyFile", file, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != masterKeyLen {
		return nil, "", fmt.Errorf("master key %s: want the base64 encoding of %d bytes", file, masterKeyLen)
	}
	return key, file, nil
}

// Disk space: a data directory whose file system has less than
// max(minFreeBytes, minFreeFraction of it) free is reported by /healthz
// (503) and at start; reads keep working.
const (
	minFreeBytes    = 16 << 20
	minFreeFraction = 0.01
)

// diskStatus is the body of /healthz (which needs no token: no paths).
type diskStatus struct {
	Status    string `json:"status"` // "ok" or "degraded"
	Problem   string `json:"problem,omitempty"`
	FreeBytes uint64 `json:"freeBytes"`
}

func diskCheck(dir string, diskFree func(string) (uint64, uint64, error)) diskStatus {
	free, total, err := diskFree(dir)
	st := diskStatus{Status: "ok", FreeBytes: free}
	switch {
	case errors.Is(err, errors.ErrUnsupported):
	case err != nil:
		st.Status, st.Problem = "degraded", "cannot read the free space of the data directory: "+err.Error()
	case free < min(uint64(minFreeBytes), uint64(float64(total)*minFreeFraction)) || free == 0:
		st.Status, st.Problem = "degraded", "the data directory's file system is full: writes fail until space is freed; reads keep working"
	}
	return st
}

func checkDisk(dir string, diskFree func(string) (uint64, uint64, error), log *slog.Logger) {
	if st := diskCheck(dir, diskFree); st.Status != "ok" {
		log.Warn("disk space", "problem", st.Problem, "freeBytes", st.FreeBytes, "dataDir", dir)
	}
}

// healthHandler serves /healthz: 200 {"status":"ok"} or 503 with the
// problem.
func healthHandler(dir string, diskFree func(string) (uint64, uint64, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := diskCheck(dir, diskFree)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if st.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(st)
	})
}
