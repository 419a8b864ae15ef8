package e2e

// A certificate of the operator's (--tls-cert, --tls-key) is served again
// without a restart: on SIGHUP, and when its files change; a pair that
// does not load is logged and the current one kept.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeServingCert writes a self-signed certificate for 127.0.0.1 and
// localhost with serial, and its key, to cert and key.
func writeServingCert(t *testing.T, cert, key string, serial int64) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "mlgov test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	// The key first: a reload between the two writes sees a pair that
	// does not match, which is kept out.
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// servedSerial is the serial number of the certificate a new connection
// to addr gets.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func waitSerial(t *testing.T, addr string, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := servedSerial(t, addr)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server presents serial %d, want %d within %v", got, want, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeCertReload(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SKIP: SIGHUP is not sent on Windows")
	}
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeServingCert(t, cert, key, 1001)
	srv := StartServer(t, ServerOptions{Bin: bin, Args: []string{"--tls-cert", cert, "--tls-key", key}})
	waitSerial(t, srv.Addr, 1001, time.Second)

	// SIGHUP: the new pair at once.
	writeServingCert(t, cert, key, 1002)
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSerial(t, srv.Addr, 1002, 3*time.Second)

	// A pair that does not load: logged naming the file, the current one kept.
	if err := os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(srv.LogTail(50), "reloading the TLS certificate; the current one is kept") {
		if time.Now().After(deadline) {
			t.Fatalf("the bad certificate was not reported:\n%s", srv.LogTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(srv.LogTail(50), cert) {
		t.Errorf("the report does not name %s:\n%s", cert, srv.LogTail(10))
	}
	if got := servedSerial(t, srv.Addr); got != 1002 {
		t.Errorf("after a bad certificate the server presents serial %d, want 1002 (kept)", got)
	}

	// Without a signal: the change of the files is seen (checked every
	// 10 s by default).
	writeServingCert(t, cert, key, 1003)
	waitSerial(t, srv.Addr, 1003, 25*time.Second)

	// TLS 1.1 is refused.
	if c, err := tls.Dial("tcp", srv.Addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
}
