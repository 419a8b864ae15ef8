package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/api"
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
	var dataDir, listen, publicURL, storeURL, certFile, keyFile string
	var maxConnsPerIP int
	var readTimeout, writeTimeout time.Duration
	var lroLatency, keyLifetime, scanInterval time.Duration
	var rotateKey bool
	var hc hardeningFlags
	var policyPaths, aliasPaths []string
	var roleDefsPath string
	oidc := new(oidcOptions)
	network := new(networkOptions)
	var pprofAddr string
	input := new(inputOptions)
	egr := new(egressOptions)
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
			policyPathsFrom := "--policy-definitions"
			if !cmd.Flags().Changed("policy-definitions") {
				policyPaths, policyPathsFrom = defaultPolicyPathsFor(dataDir)
			}
			if !cmd.Flags().Changed("aliases") {
				aliasPaths = existing(defaultAliasPaths)
			}
			if !cmd.Flags().Changed("role-definitions") {
				if p := existing([]string{defaultRoleDefinitions}); len(p) > 0 {
					roleDefsPath = p[0]
				}
			}
			if scanInterval < 0 {
				return fmt.Errorf("--scan-interval %s: want a positive duration, or 0 for no periodic scan", scanInterval)
			}
			if keyLifetime < 0 {
				return fmt.Errorf("--signing-key-lifetime %s: want a positive duration, or 0 for no automatic rotation", keyLifetime)
			}
			if readTimeout <= 0 || writeTimeout <= 0 {
				return fmt.Errorf("--read-timeout and --write-timeout must be positive")
			}
			if maxConnsPerIP < 0 {
				return fmt.Errorf("--max-conns-per-ip %d: want a positive number, or 0 for no cap", maxConnsPerIP)
			}
			if err := network.parse(); err != nil {
				return err
			}
			hc.storeOnCmdline = cmd.Flags().Changed("store")
			return serve(ctx, e, serveConfig{dataDir: dataDir, listen: listen, publicURL: publicURL, maxConnsPerIP: maxConnsPerIP, readTimeout: readTimeout, writeTimeout: writeTimeout, storeURL: storeURL, certFile: certFile, keyFile: keyFile, lroLatency: lroLatency,
				policyPaths: policyPaths, policyPathsFrom: policyPathsFrom, aliasPaths: aliasPaths, roleDefsPath: roleDefsPath, pprofAddr: pprofAddr, keyLifetime: keyLifetime, scanInterval: scanInterval, rotateKey: rotateKey, hardeningFlags: hc, input: input, oidc: oidc, network: network, egress: egr})
		},
	}
	f := c.Flags()
	f.StringVar(&dataDir, "data", "./mlgov-data", "data directory (SQLite database, TLS certificate, bootstrap.json)")
	f.StringVar(&listen, "listen", "127.0.0.1:8443", "address to listen on")
	f.StringVar(&publicURL, "public-url", "", "https://host[:port] clients reach the server at: the token issuer, and the base of every URL the server returns (default: from --listen)")
	f.IntVar(&maxConnsPerIP, "max-conns-per-ip", 256, "connections open at once from one client address (0: no cap)")
	f.DurationVar(&readTimeout, "read-timeout", 60*time.Second, "a request, body included, must arrive within this")
	f.DurationVar(&writeTimeout, "write-timeout", 60*time.Second, "an answer must be taken by the client within this")
	f.StringVar(&storeURL, "store", "", "store URL: empty for SQLite in the data directory, or postgres://...")
	f.StringVar(&certFile, "tls-cert", "", "TLS certificate (PEM); default: a self-signed one in DIR/tls")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key (PEM)")
	f.DurationVar(&scanInterval, "scan-interval", 24*time.Hour, "evaluate the compliance of every resource this often (0: never; written resources and changed assignments are evaluated as they change)")
	f.DurationVar(&keyLifetime, "signing-key-lifetime", 30*24*time.Hour, "rotate the token signing key once it is this old (0: only when asked); old keys keep verifying until their tokens expire")
	f.BoolVar(&rotateKey, "rotate-signing-key", false, "rotate the token signing key now, at start")
	f.DurationVar(&lroLatency, "lro-latency", 300*time.Millisecond, "how long long-running operations stay in progress")
	f.StringArrayVar(&policyPaths, "policy-definitions", nil, "folder or file of built-in policy definitions to load (repeatable; default: DIR/builtins/<ref> of mlgov policy builtins pull, else ../shared/corpus/azure-policy, when present)")
	f.StringVar(&roleDefsPath, "role-definitions", "", "the built-in role definitions, a JSON array as `az role definition list` prints it (default: ../shared/corpus/rbac/builtin-roles.json when present)")
	f.StringArrayVar(&aliasPaths, "aliases", nil, "alias catalog to load besides mlgov's own (repeatable; default: ../shared/corpus/aliases/Microsoft.MachineLearningServices.json when present)")
	hc.register(c)
	oidc.register(c)
	network.register(c)
	f.StringVar(&pprofAddr, "pprof", "", "serve net/http/pprof on this loopback address (profiling)")
	f.MarkHidden("pprof")
	input.register(c)
	egr.register(c)
	return c
}

type serveConfig struct {
	dataDir, listen, storeURL, certFile, keyFile string
	publicURL                                    string
	maxConnsPerIP                                int
	readTimeout, writeTimeout                    time.Duration
	lroLatency                                   time.Duration
	// certReload is how often --tls-cert and --tls-key are checked for
	// a change (default 10 s).
	certReload              time.Duration
	policyPaths, aliasPaths []string
	policyPathsFrom         string // where policyPaths come from, for the log
	roleDefsPath            string // the built-in role definitions ("": none)
	pprofAddr               string // hidden --pprof: net/http/pprof on a loopback listener
	keyLifetime             time.Duration
	scanInterval            time.Duration // periodic compliance scan
	rotateKey               bool
	hardeningFlags
	input *inputOptions // serve_retention.go
	oidc  *oidcOptions  // serve_oidc.go (nil: none)
	// network: --trusted-proxy (serve_network.go; nil: none)
	network *networkOptions
	// egress is the egress proxy's options (serve_egress.go; nil: none).
	egress *egressOptions
}

// publicHost is the host name of an endpoint URL.
func publicHost(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// endpointFor returns the URL clients use: --public-url, checked, or
// one made from the listen address.
func endpointFor(listen, public string) (string, error) {
	if public != "" {
		u, err := url.Parse(public)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return "", fmt.Errorf("--public-url %q: want https://host[:port] with no path", public)
		}
		return "https://" + u.Host, nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %w", listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, port), nil
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
	b, err := marshalBootstrap(bs)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

func marshalBootstrap(bs *Bootstrap) ([]byte, error) {
	b, err := json.MarshalIndent(bs, "", "  ")
	return append(b, '\n'), err
}

func newLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func serveHTTP(ctx context.Context, log *slog.Logger, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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

// newHTTPServer bounds what one client can hold: the headers must arrive
// within 10 s, the whole request within readTimeout, the answer must be
// taken within writeTimeout (both 60 s by default), and idle connections
// close after 120 s. Refusals close the
// connection rather than wait for an unread body (api.Server). HTTP/2
// gets the same bounds and limits on streams and buffers.
func newHTTPServer(h http.Handler, l *api.Listener, log *slog.Logger, readTimeout, writeTimeout time.Duration) *http.Server {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20, // a backstop: api.Server answers over api.MaxHeaderBytes with 431
		ConnState:         l.ConnState,
		Protocols:         p,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          100,
			MaxReadFrameSize:              1 << 20,
			MaxDecoderHeaderTableSize:     4 << 10,
			MaxEncoderHeaderTableSize:     4 << 10,
			MaxReceiveBufferPerConnection: 8 << 20,
			MaxReceiveBufferPerStream:     4 << 20,
			SendPingTimeout:               30 * time.Second,
			PingTimeout:                   15 * time.Second,
			WriteByteTimeout:              writeTimeout,
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
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
