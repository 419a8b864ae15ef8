package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/store"
)

// StoreOpener opens the configured store: url "" means the embedded
// SQLite file in the data directory; "postgres://..." selects PostgreSQL.
// cmd/mlgov supplies it (the only place that picks concrete stores).
type StoreOpener func(ctx context.Context, url, dataDir string) (store.Store, error)

// Bootstrap is the content of DIR/bootstrap.json (a contract other tools
// rely on: exactly these keys).
type Bootstrap struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
	Endpoint       string `json:"endpoint"`
	AuthorityHost  string `json:"authorityHost"`
	CACertFile     string `json:"caCertFile"`
}

func newServeCmd(e *env) *cobra.Command {
	var dataDir, listen, storeURL, certFile, keyFile string
	var lroLatency, keyLifetime time.Duration
	var rotateKey bool
	var policyPaths, aliasPaths []string
	var pprofAddr string
	input := new(inputOptions)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the ARM-compatible control plane over HTTPS",
		Long: "Runs the control plane: an Entra-ID-compatible token service and the ARM API for\n" +
			"Machine Learning resources, over HTTPS. On first start it creates a tenant, a default\n" +
			"subscription and an administrator service principal and writes DIR/bootstrap.json\n" +
			"(tenantId, subscriptionId, clientId, clientSecret, endpoint, authorityHost, caCertFile).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if e.openStore == nil {
				return errors.New("this build has no store drivers")
			}
			if (certFile == "") != (keyFile == "") {
				return errors.New("--tls-cert and --tls-key go together")
			}
			tuneGC()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			if !cmd.Flags().Changed("policy-definitions") {
				policyPaths = existing(defaultPolicyPaths)
			}
			if !cmd.Flags().Changed("aliases") {
				aliasPaths = existing(defaultAliasPaths)
			}
			if keyLifetime < 0 {
				return fmt.Errorf("--signing-key-lifetime %s: want a positive duration, or 0 for no automatic rotation", keyLifetime)
			}
			return serve(ctx, e, serveConfig{dataDir: dataDir, listen: listen, storeURL: storeURL, certFile: certFile, keyFile: keyFile, lroLatency: lroLatency,
				policyPaths: policyPaths, aliasPaths: aliasPaths, pprofAddr: pprofAddr, keyLifetime: keyLifetime, rotateKey: rotateKey, input: input})
		},
	}
	f := c.Flags()
	f.StringVar(&dataDir, "data", "./mlgov-data", "data directory (SQLite database, TLS certificate, bootstrap.json)")
	f.StringVar(&listen, "listen", "127.0.0.1:8443", "address to listen on")
	f.StringVar(&storeURL, "store", "", "store URL: empty for SQLite in the data directory, or postgres://...")
	f.StringVar(&certFile, "tls-cert", "", "TLS certificate (PEM); default: a self-signed one in DIR/tls")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key (PEM)")
	f.DurationVar(&keyLifetime, "signing-key-lifetime", 30*24*time.Hour, "rotate the token signing key once it is this old (0: only when asked); old keys keep verifying until their tokens expire")
	f.BoolVar(&rotateKey, "rotate-signing-key", false, "rotate the token signing key now, at start")
	f.DurationVar(&lroLatency, "lro-latency", 300*time.Millisecond, "how long long-running operations stay in progress")
	f.StringArrayVar(&policyPaths, "policy-definitions", nil, "folder or file of built-in policy definitions to load (repeatable; default: ../shared/corpus/azure-policy when present)")
	f.StringArrayVar(&aliasPaths, "aliases", nil, "alias catalog to load besides mlgov's own (repeatable; default: ../shared/corpus/aliases/Microsoft.MachineLearningServices.json when present)")
	f.StringVar(&pprofAddr, "pprof", "", "serve net/http/pprof on this loopback address (profiling)")
	f.MarkHidden("pprof")
	input.register(c)
	return c
}

type serveConfig struct {
	dataDir, listen, storeURL, certFile, keyFile string
	lroLatency                                   time.Duration
	policyPaths, aliasPaths                      []string
	pprofAddr                                    string // hidden --pprof: net/http/pprof on a loopback listener
	keyLifetime                                  time.Duration
	rotateKey                                    bool
	input                                        *inputOptions // serve_retention.go
}

// endpointFor turns a listen address into the URL clients use.
func endpointFor(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %w", listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, port), nil
}

// ensureCert creates a self-signed certificate for localhost and
// 127.0.0.1 in dir/tls unless one exists.
func ensureCert(dir string, now time.Time) (certFile, keyFile string, err error) {
	tdir := filepath.Join(dir, "tls")
	certFile, keyFile = filepath.Join(tdir, "cert.pem"), filepath.Join(tdir, "key.pem")
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		return certFile, keyFile, nil
	}
	if err := os.MkdirAll(tdir, 0o700); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mlgov local control plane", Organization: []string{"mlgov"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writeFileAtomic writes via a temporary file and rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func readBootstrap(path string) (*Bootstrap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var bs Bootstrap
	if err := json.Unmarshal(b, &bs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &bs, nil
}

func writeBootstrap(path string, bs *Bootstrap) error {
	b, err := json.MarshalIndent(bs, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600)
}

func newLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func serveHTTP(ctx context.Context, log *slog.Logger, srv *http.Server, ln net.Listener, certFile, keyFile string) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, certFile, keyFile) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// tuneGC lets the heap grow to five times the live data between
// collections (GOGC=400) unless GOGC is set: the live heap of serve (and
// bench) is a few MB, and with the default the collector runs many times
// a second under load, taking CPU from requests (about a fifth more
// PUTs per second with 400 in mlgov bench).
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

func isLoopback(host string) bool {
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
