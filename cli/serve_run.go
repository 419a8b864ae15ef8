package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// bootstrapState is what the store remembers of the first start (never
// the secret: that lives only in bootstrap.json).
type bootstrapState struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
}

func newUUID() string { return uuid.New() }

// timeUUIDs makes the IDs of the resource manager (ETags, operation and
// event IDs, ...): RFC 9562 version 7 UUIDs, which begin with the time in
// milliseconds and so are inserted near each other into the store's
// indexes on IDs (random version 4 IDs touch a random index page each,
// which the store then writes at every commit). 12 bits after the time
// count within a millisecond; the 62 bits after the variant are random.
type timeUUIDs struct {
	mu     sync.Mutex
	lastMS int64
	seq    uint16
}

func (g *timeUUIDs) next() string {
	var b [16]byte
	rand.Read(b[6:])
	ms := time.Now().UnixMilli()
	g.mu.Lock()
	if ms <= g.lastMS {
		if g.seq < 0xfff {
			g.seq++
		} else { // 4096 IDs in one millisecond: borrow the next one
			g.lastMS++
			g.seq = 0
		}
		ms = g.lastMS
	} else {
		g.lastMS, g.seq = ms, uint16(b[6]&0x07)<<8|uint16(b[7]) // random start, room to count
	}
	seq := g.seq
	g.mu.Unlock()
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(seq>>8)
	b[7] = byte(seq)
	b[8] = b[8]&0x3f | 0x80
	return uuid.Format(&b)
}

func serve(ctx context.Context, e *env, cfg serveConfig) error {
	log := newLogger(e)
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return err
	}
	dataDir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return err
	}
	endpoint, err := endpointFor(cfg.listen)
	if err != nil {
		return err
	}
	certFile, keyFile := cfg.certFile, cfg.keyFile
	if certFile == "" {
		if certFile, keyFile, err = ensureCert(dataDir, time.Now()); err != nil {
			return fmt.Errorf("creating the TLS certificate: %w", err)
		}
	}
	if certFile, err = filepath.Abs(certFile); err != nil {
		return err
	}
	pl, err := loadPolicies(cfg.policyPaths, cfg.aliasPaths)
	if err != nil {
		return fmt.Errorf("loading policy definitions: %w", err)
	}
	for _, f := range pl.failed {
		log.Warn("policy definition not loaded", "error", f)
	}
	log.Info("policy definitions loaded", "definitions", pl.defs.Len(), "failed", len(pl.failed), "aliases", pl.catalog.Len(), "paths", cfg.policyPaths)
	st, err := e.openStore(ctx, cfg.storeURL, dataDir)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()

	idsvc := authn.New(st, authn.Config{Issuer: authn.IssuerAt(endpoint)})
	if err := idsvc.EnsureSigningKey(ctx); err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	if cfg.rotateKey {
		if err := idsvc.RotateSigningKey(ctx); err != nil {
			return fmt.Errorf("rotating the signing key: %w", err)
		}
		log.Info("token signing key rotated")
	}
	bs, err := ensureBootstrap(ctx, st, idsvc, dataDir, endpoint, certFile)
	if err != nil {
		return err
	}
	mgr := resources.New(st, resources.NewRegistry(), cfg.input.apply(resources.Config{
		Now: func() time.Time { return time.Now().UTC() }, NewID: new(timeUUIDs).next, TenantID: bs.TenantID, LROLatency: cfg.lroLatency,
	}))
	if err := mgr.EnsureSubscription(ctx, bs.SubscriptionID, "mlgov default subscription"); err != nil {
		return err
	}
	extra := http.NewServeMux()
	extra.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	extra.Handle("/", newOAuthHandler(idsvc, endpoint, log))
	srv := &http.Server{
		Handler:           &api.Server{Manager: mgr, Auth: &tokenAuth{svc: idsvc, endpoint: endpoint, tenantID: bs.TenantID}, Log: log, Extra: extra, Policies: pl.defs},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	if cfg.pprofAddr != "" {
		if err := startPprof(ctx, log, cfg.pprofAddr); err != nil {
			return err
		}
	}
	go completeOperations(ctx, mgr, log)
	go pruneActivityLog(ctx, mgr, cfg.input, log)
	if cfg.keyLifetime > 0 {
		go rotateSigningKeys(ctx, idsvc, cfg.keyLifetime, log)
	}
	log.Info("mlgov serving", "endpoint", endpoint, "bootstrap", filepath.Join(dataDir, "bootstrap.json"), "caCertFile", certFile)
	return serveHTTP(ctx, log, srv, ln, certFile, keyFile)
}

// rotateSigningKeys rotates the token signing key whenever it has been
// in use for lifetime, checking every lifetime/24 (at most hourly).
func rotateSigningKeys(ctx context.Context, idsvc *authn.Service, lifetime time.Duration, log interface {
	Info(string, ...any)
	Error(string, ...any)
}) {
	every := min(max(lifetime/24, 10*time.Millisecond), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if rotated, err := idsvc.RotateSigningKeyIfOlder(ctx, lifetime); err != nil && ctx.Err() == nil {
			log.Error("rotating the signing key", "err", err)
		} else if rotated {
			log.Info("token signing key rotated", "lifetime", lifetime)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// completeOperations finishes due long-running operations until ctx ends.
func completeOperations(ctx context.Context, mgr *resources.Manager, log interface{ Error(string, ...any) }) {
	// Often, so that each round completes a few operations instead of a
	// burst that holds the store's write lock (see resources.CompleteDue).
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := mgr.CompleteDue(ctx); err != nil && ctx.Err() == nil {
				log.Error("completing operations", "err", err)
			}
		}
	}
}

// ensureBootstrap creates the tenant, subscription and administrator on
// first start and (re)writes bootstrap.json; later starts reuse them.
func ensureBootstrap(ctx context.Context, st store.Store, idsvc *authn.Service, dataDir, endpoint, certFile string) (*Bootstrap, error) {
	path := filepath.Join(dataDir, "bootstrap.json")
	var state *bootstrapState
	err := st.Read(ctx, func(tx store.Tx) error {
		o, err := tx.GetObject(ctx, "bootstrap", "state")
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		state = &bootstrapState{}
		return json.Unmarshal(o.Body, state)
	})
	if err != nil {
		return nil, err
	}
	var secret string
	if state == nil {
		t, err := idsvc.CreateTenant(ctx, "mlgov")
		if err != nil {
			return nil, fmt.Errorf("creating the tenant: %w", err)
		}
		sp, sec, err := idsvc.CreateServicePrincipal(ctx, t.ID, "mlgov-admin")
		if err != nil {
			return nil, fmt.Errorf("creating the administrator: %w", err)
		}
		state = &bootstrapState{TenantID: t.ID, SubscriptionID: newUUID(), ClientID: sp.AppID}
		secret = sec
		b, _ := json.Marshal(state)
		if err := st.Write(ctx, func(tx store.Tx) error {
			return tx.PutObject(ctx, &store.Object{Kind: "bootstrap", Key: "state", Body: b, UpdatedAt: time.Now().UTC()})
		}); err != nil {
			return nil, err
		}
	} else if old, err := readBootstrap(path); err == nil && old.ClientID == state.ClientID && old.ClientSecret != "" {
		secret = old.ClientSecret
	} else {
		// The file is gone or belongs to another store: issue a new
		// secret for the administrator.
		sec, _, err := idsvc.AddClientSecret(ctx, state.TenantID, state.ClientID)
		if err != nil {
			return nil, fmt.Errorf("new administrator secret: %w", err)
		}
		secret = sec
	}
	bs := &Bootstrap{TenantID: state.TenantID, SubscriptionID: state.SubscriptionID, ClientID: state.ClientID, ClientSecret: secret,
		Endpoint: endpoint, AuthorityHost: endpoint, CACertFile: certFile}
	if err := writeBootstrap(path, bs); err != nil {
		return nil, err
	}
	return bs, nil
}
