package cli

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/access"
	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/deploy"
	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/graph"
	"github.com/mlgov/mlgov/inbound"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/landingzone"
	"github.com/mlgov/mlgov/live"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/security"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
	"github.com/mlgov/mlgov/ui"
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

// hardeningFlags are the serve flags about files, keys and TLS.
type hardeningFlags struct {
	tlsMin            string // --tls-min: 1.2 (default) or 1.3
	regenerateTLS     bool   // --regenerate-tls
	resetAdminSecret  bool   // --reset-admin-secret
	masterKeyFile     string // --master-key-file (or MLGOV_MASTER_KEY_FILE)
	storePasswordFile string // --store-password-file
	storeOnCmdline    bool   // --store was given (warn if it holds a password)
	// secretLifetime is --client-secret-lifetime (0: never expires).
	secretLifetime time.Duration
	// getenv reads the environment (default os.Getenv).
	getenv func(string) string
	// diskFree reports the free and total bytes of a file system (default statfs).
	diskFree func(path string) (free, total uint64, err error)
}

func (h *hardeningFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&h.tlsMin, "tls-min", "1.2", "lowest TLS version accepted: 1.2 or 1.3")
	f.BoolVar(&h.regenerateTLS, "regenerate-tls", false, "replace the self-signed TLS key and certificate in DIR/tls (needed when they are damaged)")
	f.BoolVar(&h.resetAdminSecret, "reset-admin-secret", false, "issue a new administrator client secret into DIR/bootstrap.json and revoke the earlier ones (needed when bootstrap.json is damaged or belongs to another store)")
	f.StringVar(&h.masterKeyFile, "master-key-file", "", "file holding the key that encrypts the token signing keys in the store (base64 of 32 bytes; env MLGOV_MASTER_KEY_FILE; default DIR/keys/master.key, created on first start); replicas sharing a store must use the same one")
	f.StringVar(&h.storePasswordFile, "store-password-file", "", "file holding the PostgreSQL password (so it is not on the command line; env MLGOV_STORE_PASSWORD and PGPASSWORD also work; the store URL may also come from env MLGOV_STORE)")
	f.DurationVar(&h.secretLifetime, "client-secret-lifetime", defaultSecretLifetime, "how long a new client secret (the administrator's) is valid (0: it does not expire); rotate with mlgov directory sp credential reset")
}

func serve(ctx context.Context, e *env, cfg serveConfig) error {
	log := newLogger(e)
	if cfg.getenv == nil {
		cfg.getenv = os.Getenv
	}
	if cfg.diskFree == nil {
		cfg.diskFree = statfsFree
	}
	minTLS, err := tlsVersion(cfg.tlsMin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return err
	}
	dataDir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return err
	}
	if err := secureDataDir(dataDir, log); err != nil {
		return err
	}
	checkDisk(dataDir, cfg.diskFree, log)
	endpoint, err := endpointFor(cfg.listen, cfg.publicURL)
	if err != nil {
		return err
	}
	storeURL, err := resolveStoreURL(cfg.storeURL, cfg.storeOnCmdline, cfg.storePasswordFile, cfg.getenv, log)
	if err != nil {
		return err
	}
	kek, kekFile, err := loadMasterKey(dataDir, cfg.masterKeyFile, cfg.getenv, log)
	if err != nil {
		return err
	}
	certFile, keyFile, selfSigned := cfg.certFile, cfg.keyFile, cfg.certFile == ""
	hosts := certHosts(cfg.listen, publicHost(endpoint))
	if selfSigned {
		if certFile, keyFile, err = ensureCert(dataDir, certOptions{hosts: hosts, now: time.Now(), regenerate: cfg.regenerateTLS}, log); err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
	}
	if certFile, err = filepath.Abs(certFile); err != nil {
		return err
	}
	tlsCfg, servedCert, err := serverTLS(certFile, keyFile, minTLS)
	if err != nil {
		return err
	}
	if len(cfg.policyPaths) > 0 {
		log.Info("loading built-in policy definitions", "paths", cfg.policyPaths, "from", cfg.policyPathsFrom)
	}
	pl, err := loadPolicies(cfg.policyPaths, cfg.aliasPaths)
	if err != nil {
		return fmt.Errorf("loading policy definitions: %w", err)
	}
	for _, f := range pl.failed {
		log.Warn("policy definition not loaded", "error", f)
	}
	log.Info("policy definitions loaded", "definitions", pl.defs.Len(), "initiatives", pl.sets.Len(), "failed", len(pl.failed), "aliases", pl.catalog.Len(), "paths", cfg.policyPaths)
	if len(cfg.policyPaths) == 0 {
		log.Warn("no built-in policy definitions: none are served or can be assigned. mlgov ships no copies of Azure's built-ins; " +
			"run mlgov policy builtins pull --data DIR to download them from the public Azure/azure-policy repository, " +
			"or give --policy-definitions the built-in-policies folder of a checkout of it")
	}
	roles, err := loadRoleDefinitions(cfg.roleDefsPath)
	if err != nil {
		return err
	}
	if roles.Len() == 0 {
		log.Warn("no built-in role definitions: none are served. Give --role-definitions the JSON array `az role definition list` prints (../shared/corpus/rbac/builtin-roles.json in development)")
	} else {
		log.Info("role definitions loaded", "roles", roles.Len(), "path", cfg.roleDefsPath)
	}
	st, err := e.openStore(ctx, storeURL, dataDir)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()
	// On SQLite the compliance records and scan tasks get a database of
	// their own beside the main one: one writer each, so that a scan's
	// writing neither waits for nor holds the requests' write lock.
	cst := st
	if storeURL == "" || strings.HasPrefix(storeURL, "sqlite://") {
		main := StoreFile(dataDir)
		if storeURL != "" {
			main = strings.TrimPrefix(storeURL, "sqlite://")
		}
		if cst, err = e.openStore(ctx, "sqlite://"+strings.TrimSuffix(main, ".db")+"-compliance.db", dataDir); err != nil {
			return fmt.Errorf("opening the compliance store: %w", err)
		}
		defer cst.Close()
	}

	// Managed identities exist while their resources have them: asked
	// of the resource manager, made below.
	var mgr *resources.Manager
	hasIdentity := func(ctx context.Context, tenantID, host, resourceID, objectID string) (bool, error) {
		if mgr == nil {
			return false, nil
		}
		return mgr.HasManagedIdentity(ctx, host, resourceID, objectID)
	}
	idsvc := authn.New(st, authn.Config{Issuer: authn.IssuerAt(endpoint), DashboardRedirectURI: ui.RedirectURI(endpoint), KeyEncryptionKey: kek, SecretLifetime: secretLifetime(cfg.secretLifetime), ManagedIdentity: hasIdentity})
	if n, err := idsvc.EncryptStoredKeys(ctx); err != nil {
		return fmt.Errorf("encrypting the stored signing keys with %s: %w", kekFile, err)
	} else if n > 0 {
		log.Warn("stored token signing keys were in plain form and are now encrypted with the master key; plain copies may remain in free pages of the database and in backups: rotate the signing key (--rotate-signing-key) so that they stop being trusted",
			"keys", n, "masterKeyFile", kekFile)
	}
	dataKey, err := authn.LoadDataKey(ctx, st, kek)
	if err != nil {
		return fmt.Errorf("the data key of the resources' secrets (master key %s; replicas sharing a store must all use the same --master-key-file): %w", kekFile, err)
	}
	if err := idsvc.EnsureSigningKey(ctx); err != nil {
		return fmt.Errorf("signing key (master key %s; replicas sharing a store must all use the same --master-key-file): %w", kekFile, err)
	}
	if cfg.rotateKey {
		if err := idsvc.RotateSigningKey(ctx); err != nil {
			return fmt.Errorf("rotating the signing key: %w", err)
		}
		log.Info("token signing key rotated")
	}
	bs, err := ensureBootstrap(ctx, st, idsvc, bootstrapConfig{dataDir: dataDir, endpoint: endpoint, certFile: certFile, reset: cfg.resetAdminSecret}, log)
	if err != nil {
		return err
	}
	warnAdminSecretExpiry(ctx, idsvc, bs, time.Now(), log)
	newID := new(timeUUIDs).next
	// Management groups: the hierarchy above subscriptions, whose policy
	// and role assignments apply below them.
	hier := resources.NewHierarchy(st, bs.TenantID)
	hier.Log = log
	gov := govern.New(st, govern.Config{Builtins: pl.builtins, Aliases: pl.catalog, NewID: newID, Compliance: cst, Tree: hier.Tree})
	if err := gov.Refresh(ctx); err != nil {
		return fmt.Errorf("loading the policy assignments: %w", err)
	}
	hier.OnChange(gov.TreeChanged)
	reg := resources.NewRegistry()
	gov.Register(reg)
	resources.RegisterManagementGroups(reg, hier)
	// Remediations: Modify applied, DeployIfNotExists deployed (by the
	// deployment engine, below) as the assignments' identities.
	rem := gov.NewRemediator(govern.RemediatorConfig{TenantID: bs.TenantID})
	rem.Register(reg)
	security.Register(reg) // vulnerability findings: Microsoft.Security/assessments
	// Azure RBAC: the administrator is Owner at "/"; role assignments
	// and custom roles decide every other caller.
	admin, err := idsvc.ServicePrincipal(ctx, bs.TenantID, bs.ClientID)
	if err != nil {
		return fmt.Errorf("the bootstrap administrator: %w", err)
	}
	acc := access.New(st, access.Config{Roles: roles.Definitions(), Admins: []string{admin.ObjectID}, Log: log,
		MemberOf:      func(ctx context.Context, oid string) ([]string, error) { return idsvc.MemberOf(ctx, bs.TenantID, oid) },
		GroupsVersion: idsvc.GroupsVersion,
		Principal: func(ctx context.Context, oid string) (string, bool, error) {
			return idsvc.ObjectType(ctx, bs.TenantID, oid)
		},
		Tree: hier.Tree})
	if err := acc.Load(ctx); err != nil {
		return fmt.Errorf("loading the role assignments: %w", err)
	}
	acc.Register(reg)
	roles.Custom = acc.CustomRoles
	// The change feed: woken by this replica's commits, polling for the
	// others'; it drives live compliance, the policy cache and the role
	// assignments of every replica.
	fd := feed.New(st, feed.Options{Logger: log})
	// The dashboard's change stream: the feed's writes (told before the
	// compliance they lead to), the compliance records re-evaluated, the
	// activity log (every replica's).
	hub := live.New(live.Config{Authorizer: acc, Log: log})
	hub.Follow(fd)
	gov.Follow(fd, log)
	acc.Follow(fd)
	hier.Follow(fd)
	// Inbound network checks of the workspaces' data plane.
	inb := inbound.New(st, inbound.Config{Log: log, Authorize: func(ctx context.Context, c *activitylog.Caller, action, scope string) error {
		return mgr.Authorize(ctx, c, action, scope)
	}})
	inb.Follow(fd)
	gov.OnCompliance(hub.Compliance)
	// ARM template deployments: the engine is built on the manager and
	// told of the deployments the manager accepts.
	var eng *deploy.Engine
	var lz *landingzone.Vendor
	mgr = resources.New(st, reg, cfg.input.apply(resources.Config{
		Now: func() time.Time { return time.Now().UTC() }, NewID: newID, TenantID: bs.TenantID, LROLatency: cfg.lroLatency, Tree: hier.Tree,
		Authorizer: acc, Mutating: []resources.MutatingAdmission{gov, inb}, Validating: []resources.ValidatingAdmission{acc, gov, inb, hier},
		Committers: []resources.Committer{hier, acc, gov, rem, inb, resources.CommitFunc(func(*resources.Attributes) { fd.Notify() }),
			// A write that changes resources' managed identities stops
			// their tokens at once on this replica (on others after the
			// principal cache's TTL).
			resources.CommitFunc(func(a *resources.Attributes) {
				if resources.ChangesManagedIdentities(a) {
					idsvc.ForgetManagedIdentities()
				}
			}),
			resources.CommitFunc(func(a *resources.Attributes) { eng.Committed(a) }),
			resources.CommitFunc(func(a *resources.Attributes) { lz.Committed(a) })},
		Sealer: dataKey, ScoringURL: endpoint,
	}))
	eng = deploy.New(mgr, st, deploy.Config{TenantID: bs.TenantID, NewID: newID, Log: log})
	// Landing zones: vended through the write path and the engine.
	lz = landingzone.New(mgr, st, eng, landingzone.Config{RoleID: landingzone.RoleIDs(roles.Definitions()), NewID: newID, Log: log})
	rem.SetDeployer(eng) // DeployIfNotExists remediations run deployments
	if n, err := mgr.SealStoredSecrets(ctx); err != nil {
		return fmt.Errorf("sealing the stored secrets: %w", err)
	} else if n > 0 {
		log.Warn("secrets of resources were stored in plain form and are now sealed with the data key; plain copies may remain in free pages of the database and in backups: regenerate the keys that matter", "resources", n)
	}
	if err := mgr.EnsureSubscription(ctx, bs.SubscriptionID, "mlgov default subscription"); err != nil {
		return err
	}
	if err := mgr.EnsureRootGroup(ctx); err != nil {
		return err
	}
	if err := hier.Load(ctx); err != nil {
		return fmt.Errorf("loading the management groups: %w", err)
	}
	extra := http.NewServeMux()
	extra.Handle("GET /healthz", healthHandler(dataDir, cfg.diskFree))
	extra.Handle("/", newOAuthHandler(idsvc, endpoint, log))
	// The directory as Microsoft Graph serves it, managed by the
	// administrator.
	graph.New(graph.Config{Directory: idsvc, TenantID: bs.TenantID, PublicURL: endpoint, Admins: []string{admin.ObjectID}, Log: log}).Register(extra)
	// Online endpoints' scoring gateway (their scoringUri).
	auth := &tokenAuth{svc: idsvc, endpoint: endpoint, tenantID: bs.TenantID}
	var ext *ui.External // the dashboard's sign-in with the external issuer
	if cfg.oidc != nil {
		fed, err := cfg.oidc.build()
		if err != nil {
			return err
		}
		if fed != nil {
			auth.fed = &api.Federated{Issuer: fed, Policies: func(ctx context.Context, c *activitylog.Caller, amr []string, addr string) error {
				return idsvc.CheckExternal(ctx, bs.TenantID, c.ObjectID, c.Groups, amr, addr)
			}}
			log.Info("trusting an external issuer's tokens", "issuer", fed.Issuer())
		}
		if ext, err = cfg.oidc.dashboard(ctx, fed); err != nil {
			return err
		}
	}
	// The web dashboard (package ui): its files, on the same origin as
	// the API it calls; the server's root opens it.
	dash, err := ui.New(ui.Config{PublicURL: endpoint, TenantID: bs.TenantID, ClientID: authn.DashboardClientID, SubscriptionID: bs.SubscriptionID, External: ext})
	if err != nil {
		return err
	}
	extra.Handle(ui.Prefix, dash)
	extra.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound))
	(&api.Scoring{Manager: mgr, VerifyML: auth.verifyML, Log: log, Inbound: inb}).Register(extra)
	// The egress proxy jobs go out through, and its log (serve_egress.go).
	egr, err := cfg.egress.start(ctx, st, mgr, fd, endpoint, tlsCfg, log)
	if err != nil {
		return err
	}
	egr.register(extra, mgr, auth, endpoint)
	// Jobs at run time: runners claim them; jobs call back with their token.
	(&api.Jobs{Manager: mgr, Auth: auth, Log: log, Inbound: inb, Egress: egr.claimInfo, IssueToken: func(ctx context.Context, mi *resources.ManagedIdentity, resource string) (string, time.Time, error) {
		tok, err := idsvc.IssueManagedIdentityToken(ctx, bs.TenantID, authn.ManagedIdentity{ResourceID: mi.ResourceID, ObjectID: mi.ObjectID, ClientID: mi.ClientID, Host: mi.Host}, resource)
		if err != nil {
			return "", time.Time{}, err
		}
		return tok.AccessToken, tok.ExpiresOn, nil
	}}).Register(extra)
	raw, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	ln := api.NewListener(raw, api.ListenerConfig{TLS: tlsCfg, MaxConnsPerIP: cfg.maxConnsPerIP, Log: log})
	srv := newHTTPServer(&api.Server{PublicURL: endpoint, Manager: mgr, Auth: auth, Log: log, Extra: extra, Policies: pl.defs, PolicySets: pl.sets, Roles: roles, Insights: gov, Deployments: eng.Handler(),
		Inbound: inb, TrustedProxies: cfg.network.prefixes(), Changes: func(ctx context.Context, c *activitylog.Caller, scope string) (api.ChangeSubscription, error) {
			sub, err := hub.Subscribe(ctx, c, scope)
			if err != nil {
				return nil, err
			}
			return sub, nil
		},
		Providers: &api.Providers{Registry: mgr.Registry(), Catalog: pl.catalog, Locations: mgr.Locations()}}, ln, log, cfg.readTimeout, cfg.writeTimeout)
	if cfg.pprofAddr != "" {
		if err := startPprof(ctx, log, cfg.pprofAddr); err != nil {
			return err
		}
	}
	go mgr.RunCompletions(ctx, 20*time.Millisecond, log)
	go fd.Run(ctx)
	// Requests are taken once the feed knows where it starts, so that
	// every committed write is evaluated live (it retries the store until
	// then; the startup scan covers what came before).
	select {
	case <-fd.Ready():
	case <-ctx.Done():
		return nil // stopped before serving
	}
	go feed.RunPrune(ctx, st, feed.DefaultKeep, log)
	go gov.RunScans(ctx, newID(), cfg.scanInterval, time.Second, log)
	go gov.RunSnapshots(ctx, govern.SnapshotInterval, log) // the dashboard's compliance trend
	go hub.RunEvents(ctx, st, live.DefaultPoll)
	go rem.Run(ctx, mgr, newID(), time.Second, log)
	go eng.Run(ctx)
	go lz.Run(ctx)
	if selfSigned {
		go renewSelfSignedEvery(ctx, 12*time.Hour, dataDir, hosts, servedCert, log)
	} else {
		// A certificate of the operator's: reloaded when its files change
		// or on SIGHUP, without a restart.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		go func() { <-ctx.Done(); signal.Stop(hup) }()
		every := cfg.certReload
		if every <= 0 {
			every = 10 * time.Second
		}
		go reloadCertEvery(ctx, every, servedCert, hup, log)
	}
	go mgr.RunRetention(ctx, log)
	go gov.RunHistoryRetention(ctx, cfg.input.history(), log)
	if cfg.keyLifetime > 0 {
		go idsvc.RunKeyRotation(ctx, cfg.keyLifetime, log)
	}
	log.Info("mlgov serving", "endpoint", endpoint, "bootstrap", filepath.Join(dataDir, "bootstrap.json"), "caCertFile", certFile, "tlsMin", cmp.Or(cfg.tlsMin, "1.2"))
	return serveHTTP(ctx, log, srv, ln)
}

// bootstrapConfig configures ensureBootstrap.
type bootstrapConfig struct {
	dataDir, endpoint, certFile string
	reset                       bool // --reset-admin-secret
}

// ensureBootstrap creates the tenant, subscription and administrator on
// first start and writes bootstrap.json; later starts reuse them and
// rewrite the file only when its content changes (so that a start on a
// full disk works).
//
// It never issues an administrator secret silently: a damaged
// bootstrap.json, or one that names another store's administrator, stops
// the start; a missing one while the store already has an administrator
// (a second replica on the same PostgreSQL database, or a lost file) is
// written without clientSecret, with a warning. --reset-admin-secret
// issues a new secret and revokes the earlier ones.
func ensureBootstrap(ctx context.Context, st store.Store, idsvc *authn.Service, cfg bootstrapConfig, log *slog.Logger) (*Bootstrap, error) {
	path := filepath.Join(cfg.dataDir, "bootstrap.json")
	raw, old, err := readBootstrapFile(path)
	if err != nil {
		if !cfg.reset {
			return nil, fmt.Errorf("%w; restore it, or start with --reset-admin-secret to write a new one with a new administrator secret (earlier secrets are then revoked)", err)
		}
		old = nil
	}
	state, err := readBootstrapState(ctx, st)
	if err != nil {
		return nil, err
	}
	var secret string
	switch {
	case state == nil:
		if old != nil {
			log.Warn("the store is empty: bootstrap.json of an earlier store is replaced", "bootstrap", path, "oldTenantId", old.TenantID, "oldClientId", old.ClientID)
		}
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
	case cfg.reset:
		if secret, err = resetAdminSecret(ctx, idsvc, state); err != nil {
			return nil, err
		}
		log.Warn("new administrator secret issued (--reset-admin-secret); earlier administrator secrets are revoked", "bootstrap", path, "clientId", state.ClientID)
	case old != nil && strings.EqualFold(old.ClientID, state.ClientID) && strings.EqualFold(old.TenantID, state.TenantID):
		secret = old.ClientSecret
	case old != nil:
		return nil, fmt.Errorf("%s names administrator %s of tenant %s, but the store's administrator is %s of tenant %s: the file belongs to another store; move it away, or start with --reset-admin-secret to issue a new administrator secret",
			path, old.ClientID, old.TenantID, state.ClientID, state.TenantID)
	default:
		log.Warn("bootstrap.json written without clientSecret: the store already has an administrator (created by another replica or an earlier start whose bootstrap.json is gone); copy clientSecret from that bootstrap.json, or start once with --reset-admin-secret to issue a new one",
			"bootstrap", path, "clientId", state.ClientID)
	}
	bs := &Bootstrap{TenantID: state.TenantID, SubscriptionID: state.SubscriptionID, ClientID: state.ClientID, ClientSecret: secret,
		Endpoint: cfg.endpoint, AuthorityHost: cfg.endpoint, CACertFile: cfg.certFile}
	b, err := marshalBootstrap(bs)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(b, raw) {
		return bs, nil // unchanged: no write (a full disk does not stop the start)
	}
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return bs, nil
}

// readBootstrapFile reads bootstrap.json: (nil, nil, nil) when it does
// not exist, an error naming the file when it is not valid JSON or lacks
// tenantId, subscriptionId or clientId.
func readBootstrapFile(path string) ([]byte, *Bootstrap, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var bs Bootstrap
	if err := json.Unmarshal(raw, &bs); err != nil {
		return raw, nil, fmt.Errorf("%s is damaged: %w", path, err)
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"tenantId", bs.TenantID}, {"subscriptionId", bs.SubscriptionID}, {"clientId", bs.ClientID}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return raw, nil, fmt.Errorf("%s is damaged: %s missing", path, strings.Join(missing, ", "))
	}
	return raw, &bs, nil
}

// resetAdminSecret issues a new secret for the administrator and removes
// every other one, in one transaction (the tokens of the removed ones are
// refused).
func resetAdminSecret(ctx context.Context, idsvc *authn.Service, state *bootstrapState) (string, error) {
	sec, _, err := idsvc.ResetClientSecret(ctx, state.TenantID, state.ClientID, authn.SecretOptions{})
	if err != nil {
		return "", fmt.Errorf("new administrator secret for %s: %w", state.ClientID, err)
	}
	return sec, nil
}
