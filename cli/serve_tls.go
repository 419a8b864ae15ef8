package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// The self-signed certificate mlgov makes for itself is a leaf for the
// names it serves (never a CA), valid for at most selfSignedValidity (the
// CA/Browser Forum's ceiling for public leaves) and renewed at start when
// it expires within selfSignedRenewBefore.
const (
	selfSignedValidity    = 397 * 24 * time.Hour
	selfSignedRenewBefore = 30 * 24 * time.Hour
)

// certHosts returns the names the self-signed certificate covers:
// localhost, 127.0.0.1, ::1 and the host of each address or URL given
// (the --listen address; unspecified hosts such as 0.0.0.0 are skipped).
func certHosts(listen string, more ...string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	add := func(h string) {
		h = strings.Trim(h, "[]")
		if h == "" || h == "0.0.0.0" || h == "::" || slices.Contains(hosts, strings.ToLower(h)) {
			return
		}
		hosts = append(hosts, strings.ToLower(h))
	}
	if h, _, err := net.SplitHostPort(listen); err == nil {
		add(h)
	}
	for _, m := range more {
		add(m)
	}
	return hosts
}

// certOptions configure ensureCert.
type certOptions struct {
	hosts      []string  // names the certificate must cover
	now        time.Time // the current time
	regenerate bool      // --regenerate-tls: replace the key and certificate
}

// ensureCert makes sure dir/tls holds a usable self-signed certificate
// and key and returns their paths: it creates them when both are
// missing, refuses to start (naming the file) when one is missing or
// damaged unless opts.regenerate, and renews the certificate (same key,
// with a log line) when it expires within selfSignedRenewBefore or does
// not cover opts.hosts.
func ensureCert(dir string, opts certOptions, log *slog.Logger) (certFile, keyFile string, err error) {
	tdir := filepath.Join(dir, "tls")
	certFile, keyFile = filepath.Join(tdir, "cert.pem"), filepath.Join(tdir, "key.pem")
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return "", "", err
	}
	_, certErr := os.Stat(certFile)
	_, keyErr := os.Stat(keyFile)
	if errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist) {
		key, err := writeNewKey(keyFile)
		if err != nil {
			return "", "", err
		}
		if err := writeSelfSigned(certFile, key, opts); err != nil {
			return "", "", err
		}
		log.Info("self-signed TLS certificate created", "cert", certFile, "key", keyFile, "names", opts.hosts)
		return certFile, keyFile, nil
	}
	key, cert, err := loadSelfSigned(certFile, keyFile)
	if err != nil {
		if !opts.regenerate {
			return "", "", fmt.Errorf("%w; start with --regenerate-tls to replace the self-signed key and certificate (clients that trust the old certificate must then be given the new one)", err)
		}
		log.Warn("regenerating the self-signed TLS key and certificate (--regenerate-tls)", "reason", err.Error(), "cert", certFile, "key", keyFile)
		if key, err = writeNewKey(keyFile); err != nil {
			return "", "", err
		}
		if err := writeSelfSigned(certFile, key, opts); err != nil {
			return "", "", err
		}
		return certFile, keyFile, nil
	}
	if opts.regenerate {
		log.Warn("regenerating the self-signed TLS key and certificate (--regenerate-tls)", "cert", certFile, "key", keyFile)
		if key, err = writeNewKey(keyFile); err != nil {
			return "", "", err
		}
		return certFile, keyFile, writeSelfSigned(certFile, key, opts)
	}
	var missing []string
	for _, h := range opts.hosts {
		if cert.VerifyHostname(h) != nil {
			missing = append(missing, h)
		}
	}
	switch {
	case opts.now.Add(selfSignedRenewBefore).After(cert.NotAfter):
		log.Warn("renewing the self-signed TLS certificate: it expires soon", "cert", certFile, "notAfter", cert.NotAfter.UTC().Format(time.RFC3339))
		return certFile, keyFile, writeSelfSigned(certFile, key, opts)
	case len(missing) > 0:
		log.Warn("renewing the self-signed TLS certificate: it does not name every host served", "cert", certFile, "missing", missing)
		return certFile, keyFile, writeSelfSigned(certFile, key, opts)
	case cert.IsCA:
		log.Warn("the self-signed TLS certificate is a CA certificate made by an older mlgov; start once with --regenerate-tls to replace it by a leaf", "cert", certFile)
	}
	return certFile, keyFile, nil
}

// loadSelfSigned reads and checks the key and certificate; errors name the
// file that is wrong.
func loadSelfSigned(certFile, keyFile string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS key %s: %w", keyFile, err)
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return nil, nil, fmt.Errorf("TLS key %s: no PEM block", keyFile)
	}
	key, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS key %s: %w", keyFile, err)
	}
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS certificate %s: %w", certFile, err)
	}
	blk, _ = pem.Decode(cb)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("TLS certificate %s: no PEM CERTIFICATE block", certFile)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS certificate %s: %w", certFile, err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, fmt.Errorf("TLS certificate %s does not belong to the key %s", certFile, keyFile)
	}
	return key, cert, nil
}

func writeNewKey(keyFile string) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return nil, fmt.Errorf("writing the TLS key %s: %w", keyFile, err)
	}
	return key, nil
}

// selfSignedTemplate is the certificate for hosts: a leaf (not a CA) for
// server authentication, signed by its own key.
func selfSignedTemplate(hosts []string, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mlgov control plane", Organization: []string{"mlgov"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity - time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl, nil
}

func writeSelfSigned(certFile string, key *ecdsa.PrivateKey, opts certOptions) error {
	tmpl, err := selfSignedTemplate(opts.hosts, opts.now)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("writing the TLS certificate %s: %w", certFile, err)
	}
	return nil
}

// tlsVersion parses --tls-min.
func tlsVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("--tls-min %q: want 1.2 or 1.3", s)
}

// tls12Ciphers are the TLS 1.2 suites served: forward secret (ECDHE) AEADs
// only, no CBC or SHA-1 suites. TLS 1.3 suites are not configurable.
var tls12Ciphers = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// servingCert is the certificate the server presents; the self-signed
// one is swapped when it is renewed while the server runs.
type servingCert struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// load reads the key pair (errors name the files) and serves it.
func (c *servingCert) load() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cur.Store(&pair)
	return nil
}

func (c *servingCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }

// serverTLS loads the key pair (errors name the files) and returns the
// server's TLS configuration.
func serverTLS(certFile, keyFile string, minVersion uint16) (*tls.Config, *servingCert, error) {
	sc := &servingCert{certFile: certFile, keyFile: keyFile}
	if err := sc.load(); err != nil {
		return nil, nil, err
	}
	return &tls.Config{
		GetCertificate: sc.get,
		MinVersion:     minVersion,
		CipherSuites:   slices.Clone(tls12Ciphers),
		NextProtos:     []string{"h2", "http/1.1"},
	}, sc, nil
}

// renewSelfSigned renews the self-signed certificate in dir when it
// expires within selfSignedRenewBefore (see ensureCert) and serves the
// result; errors are logged and the current certificate kept.
func renewSelfSigned(dir string, hosts []string, now time.Time, sc *servingCert, log *slog.Logger) {
	if _, _, err := ensureCert(dir, certOptions{hosts: hosts, now: now}, log); err != nil {
		log.Error("checking the self-signed TLS certificate", "err", err)
		return
	}
	if err := sc.load(); err != nil {
		log.Error("reloading the self-signed TLS certificate", "err", err)
	}
}

// renewSelfSignedEvery runs renewSelfSigned every interval until ctx ends.
func renewSelfSignedEvery(ctx context.Context, every time.Duration, dir string, hosts []string, sc *servingCert, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			renewSelfSigned(dir, hosts, now, sc, log)
		}
	}
}

// fileStamp is what changes when a file is replaced or rewritten.
type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{size: -1}
	}
	return fileStamp{size: fi.Size(), mod: fi.ModTime()}
}

// reloadCertEvery serves the key pair again when its files change
// (checked every interval) or the process gets SIGHUP, until ctx ends: a
// renewed certificate (--tls-cert, --tls-key) is served without a
// restart, to the connections made after it. A pair that does not load
// (files half-written, a key that does not match) is logged naming the
// files, and the current one kept.
func reloadCertEvery(ctx context.Context, every time.Duration, sc *servingCert, hup <-chan os.Signal, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := [2]fileStamp{stampOf(sc.certFile), stampOf(sc.keyFile)}
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-hup:
			forced = true
		}
		now := [2]fileStamp{stampOf(sc.certFile), stampOf(sc.keyFile)}
		if now == last && !forced {
			continue
		}
		if err := sc.load(); err != nil {
			log.Error("reloading the TLS certificate; the current one is kept", "err", err)
			continue // tried again at the next change or SIGHUP
		}
		last = now
		if leaf, err := x509.ParseCertificate(sc.cur.Load().Certificate[0]); err == nil {
			log.Info("TLS certificate reloaded", "cert", sc.certFile, "subject", leaf.Subject.String(), "notAfter", leaf.NotAfter)
		}
	}
}
