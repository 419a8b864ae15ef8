package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func testLogger() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsureCertLeaf(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	log, logs := testLogger()
	hosts := certHosts("mlgov.example:8443")
	certFile, keyFile, err := ensureCert(dir, certOptions{hosts: hosts, now: now}, log)
	if err != nil {
		t.Fatal(err)
	}
	c := readCert(t, certFile)
	if c.IsCA || c.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("IsCA %v, KeyUsage %v: want a leaf without CertSign", c.IsCA, c.KeyUsage)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("KeyUsage %v, ExtKeyUsage %v: want DigitalSignature, ServerAuth", c.KeyUsage, c.ExtKeyUsage)
	}
	if v := c.NotAfter.Sub(c.NotBefore); v > 397*24*time.Hour {
		t.Errorf("valid for %v, want at most 397 days", v)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "mlgov.example"} {
		if err := c.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not name %s: %v", h, err)
		}
	}
	// It is its own trust anchor (what bootstrap.json's caCertFile gives clients).
	pool := x509.NewCertPool()
	pool.AddCert(c)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", CurrentTime: now}); err != nil {
		t.Errorf("the certificate does not verify against itself: %v", err)
	}
	for _, p := range []string{certFile, keyFile} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", p, fi.Mode().Perm(), err)
		}
	}
	if !strings.Contains(logs.String(), "self-signed TLS certificate created") {
		t.Errorf("no log line for the new certificate:\n%s", logs)
	}
}

func TestEnsureCertDamaged(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	hosts := certHosts("127.0.0.1:8443")
	for _, tc := range []struct {
		name    string
		damage  func(certFile, keyFile string) error
		wantErr string // names the file
		file    string // "cert" or "key"
	}{
		{"corrupt key", func(c, k string) error { return os.WriteFile(k, []byte("not a key\n"), 0o600) }, "TLS key", "key"},
		{"truncated key", func(c, k string) error {
			b, _ := os.ReadFile(k)
			return os.WriteFile(k, b[:len(b)/2], 0o600)
		}, "TLS key", "key"},
		{"missing key", func(c, k string) error { return os.Remove(k) }, "TLS key", "key"},
		{"corrupt cert", func(c, k string) error {
			return os.WriteFile(c, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600)
		}, "TLS certificate", "cert"},
		{"missing cert", func(c, k string) error { return os.Remove(c) }, "TLS certificate", "cert"},
		{"other key", func(c, k string) error { _, err := writeNewKey(k); return err }, "does not belong to the key", "cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			log, logs := testLogger()
			certFile, keyFile, err := ensureCert(dir, certOptions{hosts: hosts, now: now}, log)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(certFile)
			if err := tc.damage(certFile, keyFile); err != nil {
				t.Fatal(err)
			}
			_, _, err = ensureCert(dir, certOptions{hosts: hosts, now: now}, log)
			file := map[string]string{"cert": certFile, "key": keyFile}[tc.file]
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "--regenerate-tls") {
				t.Fatalf("ensureCert on a damaged pair = %v; want an error naming %s and --regenerate-tls", err, file)
			}
			if after, _ := os.ReadFile(certFile); tc.file == "key" && !bytes.Equal(before, after) {
				t.Error("the certificate was replaced although the start was refused")
			}
			// --regenerate-tls replaces them, with a log line.
			if _, _, err := ensureCert(dir, certOptions{hosts: hosts, now: now, regenerate: true}, log); err != nil {
				t.Fatalf("with regenerate: %v", err)
			}
			if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
				t.Errorf("after regenerate: %v", err)
			}
			if !strings.Contains(logs.String(), "regenerating the self-signed TLS key") {
				t.Errorf("no log line for the regeneration:\n%s", logs)
			}
		})
	}
}

func TestEnsureCertRenewal(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	log, logs := testLogger()
	certFile, keyFile, err := ensureCert(dir, certOptions{hosts: certHosts("127.0.0.1:1"), now: t0}, log)
	if err != nil {
		t.Fatal(err)
	}
	first := readCert(t, certFile)
	key0, _ := os.ReadFile(keyFile)
	for _, tc := range []struct {
		name   string
		now    time.Time
		listen string
		renew  string // log text; "" = kept
	}{
		{"fresh", t0.Add(300 * 24 * time.Hour), "127.0.0.1:1", ""},
		{"expiring", first.NotAfter.Add(-29 * 24 * time.Hour), "127.0.0.1:1", "expires soon"},
		{"new host", first.NotAfter.Add(-29 * 24 * time.Hour), "10.1.2.3:8443", "does not name every host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := readCert(t, certFile)
			n := strings.Count(logs.String(), "renewing")
			if _, _, err := ensureCert(dir, certOptions{hosts: certHosts(tc.listen), now: tc.now}, log); err != nil {
				t.Fatal(err)
			}
			after := readCert(t, certFile)
			renewed := !before.Equal(after)
			if renewed != (tc.renew != "") {
				t.Fatalf("renewed = %v, want %v", renewed, tc.renew != "")
			}
			if tc.renew != "" {
				if strings.Count(logs.String(), "renewing") != n+1 || !strings.Contains(logs.String(), tc.renew) {
					t.Errorf("want one log line %q:\n%s", tc.renew, logs)
				}
				if !after.NotAfter.After(tc.now.Add(300 * 24 * time.Hour)) {
					t.Errorf("renewed certificate expires %v", after.NotAfter)
				}
			}
			if key, _ := os.ReadFile(keyFile); !bytes.Equal(key, key0) {
				t.Error("renewal replaced the key")
			}
		})
	}
}

func TestTLSVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		err  bool
	}{{"", tls.VersionTLS12, false}, {"1.2", tls.VersionTLS12, false}, {"1.3", tls.VersionTLS13, false}, {"1.1", 0, true}, {"1.0", 0, true}, {"tls13", 0, true}} {
		got, err := tlsVersion(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("tlsVersion(%q) = %v, %v", tc.in, got, err)
		}
	}
	for _, id := range tls12Ciphers {
		name := tls.CipherSuiteName(id)
		if strings.Contains(name, "CBC") || strings.HasSuffix(name, "_SHA") || !strings.HasPrefix(name, "TLS_ECDHE_") {
			t.Errorf("cipher %s is not an ECDHE AEAD suite", name)
		}
	}
}

func TestRenewSelfSignedWhileServing(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	log, logs := testLogger()
	hosts := certHosts("127.0.0.1:1")
	certFile, keyFile, err := ensureCert(dir, certOptions{hosts: hosts, now: t0}, log)
	if err != nil {
		t.Fatal(err)
	}
	_, sc, err := serverTLS(certFile, keyFile, tls.VersionTLS12)
	if err != nil {
		t.Fatal(err)
	}
	served := func() *x509.Certificate {
		c, _ := sc.get(nil)
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf
	}
	first := served()
	renewSelfSigned(dir, hosts, t0.Add(100*24*time.Hour), sc, log)
	if !served().Equal(first) {
		t.Fatal("renewed 100 days after creation")
	}
	renewSelfSigned(dir, hosts, first.NotAfter.Add(-20*24*time.Hour), sc, log)
	if served().Equal(first) || !served().NotAfter.After(first.NotAfter) {
		t.Fatalf("not renewed 20 days before expiry: %v", served().NotAfter)
	}
	if !strings.Contains(logs.String(), "expires soon") {
		t.Errorf("no log line:\n%s", logs)
	}
	// A damaged key while running: logged, the served certificate kept.
	cur := served()
	os.WriteFile(keyFile, []byte("x"), 0o600)
	renewSelfSigned(dir, hosts, first.NotAfter, sc, log)
	if !served().Equal(cur) || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("damaged key while running: served changed or no error logged:\n%s", logs)
	}
}
