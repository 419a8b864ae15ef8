package authn

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/store"
)

// Object kinds this package keeps in the store (store.Object.Kind).
const (
	KindTenant           = "tenant"
	KindServicePrincipal = "servicePrincipal"
	KindSigningKey       = "signingKey"
)

// Audiences ARM accepts in the aud claim, exactly (resource-model.md §3.4, §7).
var Audiences = []string{
	"https://management.core.windows.net/",
	"https://management.core.windows.net",
	"https://management.azure.com/",
	"https://management.azure.com",
}

// GraphAudiences are the aud claims of tokens for the directory's
// Microsoft Graph API (package graph): the resource's URI, as Entra
// writes it in the tokens it issues for https://graph.microsoft.com/.default.
var GraphAudiences = []string{
	"https://graph.microsoft.com",
	"https://graph.microsoft.com/",
}

// MLAudiences are the aud claims of tokens for Azure Machine Learning's
// data planes (the scoring of AADToken online endpoints).
var MLAudiences = []string{
	"https://ml.azure.com",
	"https://ml.azure.com/",
}

// Config configures a Service. Zero fields take the defaults noted.
type Config struct {
	// Issuer returns the iss claim (and the discovery document's issuer)
	// for a tenant. Required. MSAL requires the issuer to have the same
	// scheme, host and port as the authority the client was given, so
	// for a server at https://127.0.0.1:8443 use
	// IssuerAt("https://127.0.0.1:8443"), giving
	// https://127.0.0.1:8443/{tenant}/v2.0 (Entra's v2 shape).
	Issuer func(tenantID string) string
	// DashboardRedirectURI is the web dashboard's redirect URI
	// ({public URL}/ui/); "": the dashboard client (DashboardClientID)
	// is not known.
	DashboardRedirectURI string
	// TokenLifetime is how long access tokens are valid (default 1h; Entra
	// reports expires_in 3599 for app tokens); at most MaxTokenLifetime.
	TokenLifetime time.Duration
	// Leeway is the clock skew Verify tolerates on exp and nbf (default
	// 5m, the Microsoft.IdentityModel default).
	Leeway time.Duration
	// SecretLifetime is how long a new client secret is valid (default
	// DefaultSecretLifetime, as Graph's addPassword); negative: new
	// secrets do not expire.
	SecretLifetime time.Duration
	// PrincipalCacheTTL is how long Verify trusts what it read of a
	// principal (whether it exists, is enabled, and which credentials it
	// has) before reading it again (default 5s). This service's own
	// changes take effect at once; another replica's (or the offline
	// `mlgov directory` commands') after at most this long.
	PrincipalCacheTTL time.Duration
	// Throttle bounds failed client-credential attempts (zero fields take
	// the defaults of Throttle).
	Throttle Throttle
	// KeyCacheTTL is how long signing keys read from the store are reused
	// before they are read again (default 1m). A key rotated by another
	// replica is seen after at most this long (an unknown kid triggers an
	// earlier reload). Retired keys stay published this much longer.
	KeyCacheTTL time.Duration
	// KeyEncryptionKey, 32 bytes, encrypts the private signing keys in the
	// store (AES-256-GCM); nil stores them in plain form. Replicas sharing
	// a store must use the same one: keys sealed under another are an
	// error (ErrWrongKeyEncryptionKey), never silently replaced.
	KeyEncryptionKey []byte
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Rand is the source of identifiers, client secrets, salts and token
	// ids (default crypto/rand.Reader). RSA key generation always uses the
	// system's secure source (Go 1.26 ignores the random argument of
	// rsa.GenerateKey).
	Rand io.Reader
	// ManagedIdentity reports whether the resource resourceID of the
	// tenant has the managed identity objectID (a compute's or a
	// user-assigned identity's) and, when host is not "", whether the
	// resource host still names that user-assigned identity: its tokens
	// are accepted while it does. nil: managed identities get no tokens.
	ManagedIdentity func(ctx context.Context, tenantID, host, resourceID, objectID string) (bool, error)
}

// IssuerAt returns an issuer function for a server whose public base URL
// is baseURL (scheme://host[:port], no trailing slash):
// baseURL + "/" + tenantID + "/v2.0".
func IssuerAt(baseURL string) func(string) string {
	baseURL = strings.TrimRight(baseURL, "/")
	return func(tenantID string) string { return baseURL + "/" + tenantID + "/v2.0" }
}

// MaxTokenLifetime bounds the lifetime of the tokens Verify accepts: a
// token whose exp is more than this after its iat, or after now, is
// refused whoever signed it.
const MaxTokenLifetime = 24 * time.Hour

// DefaultSecretLifetime is how long a new client secret is valid unless
// Config.SecretLifetime says otherwise: two years, Graph's default for
// addPassword.
const DefaultSecretLifetime = 2 * 365 * 24 * time.Hour

// Service issues and verifies access tokens and manages tenants, service
// principals and signing keys. It is safe for concurrent use.
type Service struct {
	st  store.Store
	cfg Config

	mu      sync.Mutex
	keys    *keySet   // cached signing keys; nil until first load
	loaded  time.Time // when keys were read
	tenants sync.Map  // tenant id → struct{}: tenants known to exist

	principals principalCache // principals.go
	attempts   *attempts      // throttle.go
	signIns    signInWriter   // signin.go
	groupsGen  atomic.Uint64  // groups.go: GroupsVersion
}

// New returns a Service storing its state in st. It panics if
// cfg.Issuer is nil or cfg.TokenLifetime exceeds MaxTokenLifetime (wiring
// errors).
func New(st store.Store, cfg Config) *Service {
	if cfg.Issuer == nil {
		panic("authn: Config.Issuer is required")
	}
	if cfg.TokenLifetime > MaxTokenLifetime {
		panic(fmt.Sprintf("authn: Config.TokenLifetime %s exceeds %s", cfg.TokenLifetime, MaxTokenLifetime))
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.SecretLifetime == 0 {
		cfg.SecretLifetime = DefaultSecretLifetime
	}
	if cfg.PrincipalCacheTTL <= 0 {
		cfg.PrincipalCacheTTL = 5 * time.Second
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 5 * time.Minute
	}
	if cfg.KeyCacheTTL <= 0 {
		cfg.KeyCacheTTL = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	cfg.Throttle = cfg.Throttle.withDefaults()
	return &Service{st: st, cfg: cfg, attempts: newAttempts(cfg.Throttle)}
}

// Issuer returns the issuer URL of a tenant.
func (s *Service) Issuer(tenantID string) string { return s.cfg.Issuer(tenantID) }

// Authority returns the authority URL of a tenant, the value for
// authorization_uri in WWW-Authenticate: the issuer's origin + "/" +
// tenantID (https://127.0.0.1:8443/{tenant}). With tenantID "" it is the
// origin + "/", as ARM answers "https://login.windows.net/" when it
// knows no tenant.
func (s *Service) Authority(tenantID string) string {
	tenantID = strings.ToLower(tenantID)
	u, err := url.Parse(s.cfg.Issuer(tenantID))
	if err != nil || u.Host == "" {
		return "/" + tenantID
	}
	return u.Scheme + "://" + u.Host + "/" + tenantID
}

// TokenLifetime returns the configured access-token lifetime.
func (s *Service) TokenLifetime() time.Duration { return s.cfg.TokenLifetime }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
