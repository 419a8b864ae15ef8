package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Tenant is a directory (an Entra tenant).
type Tenant struct {
	ID          string    `json:"id"` // lower-case GUID
	DisplayName string    `json:"displayName"`
	CreatedAt   time.Time `json:"createdDateTime"`
}

// ServicePrincipal is an application identity that authenticates with a
// client secret. AppID is the client id (appid/azp claims); ObjectID is the
// principal id RBAC assignments name (oid claim).
type ServicePrincipal struct {
	TenantID    string
	AppID       string
	ObjectID    string
	DisplayName string
	// Roles are app roles put into the roles claim (none by default).
	Roles               []string
	PasswordCredentials []PasswordCredential
	CreatedAt           time.Time
	// AccountEnabled is false for a disabled principal: it gets no
	// tokens, and the tokens it has are refused.
	AccountEnabled bool
	// LockedUntil is when a lockout after repeated failed sign-ins ends
	// (zero: not locked out).
	LockedUntil time.Time
	// AppObjectID is the application's object id (Graph's
	// applications/{id}); HasServicePrincipal is false for an
	// application without a service principal, which gets no tokens.
	AppObjectID         string
	HasServicePrincipal bool
	// RedirectURIs and SPARedirectURIs are the application's redirect
	// URIs of the authorization code flow (Graph's publicClient and spa
	// redirectUris); PublicClient allows the device code flow (Graph's
	// isFallbackPublicClient).
	RedirectURIs, SPARedirectURIs []string
	PublicClient                  bool
	// KeyCredentials are the application's certificates.
	KeyCredentials []KeyCredential
}

// PasswordCredential describes one client secret (never the secret).
type PasswordCredential struct {
	KeyID string
	// DisplayName is the secret's description (Graph's displayName).
	DisplayName string
	// Hint is the first three characters of the secret, as Entra shows.
	Hint  string
	Start time.Time
	// End is when the secret stops working; zero means never.
	End time.Time
}

// spRecord is the stored form of a service principal (Kind
// KindServicePrincipal, Key spKey(tenant, appID)).
type spRecord struct {
	TenantID    string         `json:"tenantId"`
	AppID       string         `json:"appId"`
	ObjectID    string         `json:"id"`
	DisplayName string         `json:"displayName"`
	Roles       []string       `json:"appRoles,omitempty"`
	Secrets     []secretRecord `json:"passwordCredentials"`
	CreatedAt   time.Time      `json:"createdDateTime"`
	// Disabled is Graph's accountEnabled: false (stored inverted so that
	// records written before it are enabled).
	Disabled bool `json:"disabled,omitempty"`
	// LockedUntil is when the lockout after repeated failed sign-ins
	// ends (throttle.go); kept in the store so that every replica honours
	// it and a restart does not lift it.
	LockedUntil time.Time `json:"lockedUntil,omitzero"`
	// AppObjectID is the object id of the application (Graph's
	// applications/{id}); "" for records written before applications
	// had one (applicationObjectID derives it).
	AppObjectID string `json:"applicationId,omitempty"`
	// NoServicePrincipal: the application has no service principal in
	// the tenant (Graph's POST /applications made it, POST
	// /servicePrincipals not yet, or its service principal was deleted):
	// it gets no tokens. Stored inverted so that earlier records have one.
	NoServicePrincipal bool `json:"noServicePrincipal,omitempty"`
	// RedirectURIs and PublicClient: ServicePrincipal's.
	RedirectURIs    []string `json:"redirectUris,omitempty"`
	SPARedirectURIs []string `json:"spaRedirectUris,omitempty"`
	PublicClient    bool     `json:"isFallbackPublicClient,omitempty"`
	// Certs are the application's certificates (certificates.go).
	Certs []certRecord `json:"keyCredentials,omitempty"`
}

// secretRecord stores a client secret as SHA-256(salt || secret); the
// secret itself is never stored. Secrets carry 240 bits of randomness, so a
// fast hash is enough (no password stretching needed).
type secretRecord struct {
	KeyID       string    `json:"keyId"`
	DisplayName string    `json:"displayName,omitempty"`
	Hint        string    `json:"hint"`
	Salt        []byte    `json:"salt"`
	Hash        []byte    `json:"hash"`
	Start       time.Time `json:"startDateTime"`
	End         time.Time `json:"endDateTime,omitzero"`
}

func spKey(tenantID, appID string) string {
	return strings.ToLower(tenantID) + "/" + strings.ToLower(appID)
}

func (r *spRecord) public() *ServicePrincipal {
	sp := &ServicePrincipal{
		TenantID: r.TenantID, AppID: r.AppID, ObjectID: r.ObjectID,
		DisplayName: r.DisplayName, Roles: append([]string(nil), r.Roles...), CreatedAt: r.CreatedAt,
		AccountEnabled: !r.Disabled, LockedUntil: r.LockedUntil,
		AppObjectID: r.applicationObjectID(), HasServicePrincipal: !r.NoServicePrincipal,
		RedirectURIs: slices.Clone(r.RedirectURIs), SPARedirectURIs: slices.Clone(r.SPARedirectURIs), PublicClient: r.PublicClient,
	}
	for _, c := range r.Secrets {
		sp.PasswordCredentials = append(sp.PasswordCredentials, PasswordCredential{KeyID: c.KeyID, DisplayName: c.DisplayName, Hint: c.Hint, Start: c.Start, End: c.End})
	}
	for _, c := range r.Certs {
		sp.KeyCredentials = append(sp.KeyCredentials, c.public())
	}
	return sp
}

// CreateTenant creates a tenant with a new GUID.
func (s *Service) CreateTenant(ctx context.Context, displayName string) (*Tenant, error) {
	id, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	t := &Tenant{ID: id, DisplayName: displayName, CreatedAt: s.now()}
	body, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindTenant, id); err == nil {
			return fmt.Errorf("authn: tenant %s: %w", id, store.ErrConflict)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.PutObject(ctx, &store.Object{Kind: KindTenant, Key: id, Body: body, UpdatedAt: t.CreatedAt})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Tenant returns a tenant; the error wraps store.ErrNotFound if it does
// not exist. The id is case-insensitive.
func (s *Service) Tenant(ctx context.Context, id string) (*Tenant, error) {
	var t Tenant
	err := s.st.Read(ctx, func(tx store.Tx) error {
		o, err := tx.GetObject(ctx, KindTenant, strings.ToLower(id))
		if err != nil {
			return err
		}
		return json.Unmarshal(o.Body, &t)
	})
	if err != nil {
		return nil, fmt.Errorf("authn: tenant %q: %w", id, err)
	}
	return &t, nil
}

// Tenants lists all tenants, ordered by id.
func (s *Service) Tenants(ctx context.Context) ([]*Tenant, error) {
	var ts []*Tenant
	err := s.st.Read(ctx, func(tx store.Tx) error {
		objs, err := tx.ListObjects(ctx, KindTenant)
		if err != nil {
			return err
		}
		for _, o := range objs {
			var t Tenant
			if err := json.Unmarshal(o.Body, &t); err != nil {
				return fmt.Errorf("authn: tenant %s: %w", o.Key, err)
			}
			ts = append(ts, &t)
		}
		return nil
	})
	return ts, err
}

// CreateServicePrincipal creates an application and its service principal
// in a tenant, with one client secret, which is returned once and never
// stored. The tenant must exist.
func (s *Service) CreateServicePrincipal(ctx context.Context, tenantID, displayName string) (*ServicePrincipal, string, error) {
	tenantID = strings.ToLower(tenantID)
	appID, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return nil, "", err
	}
	objID, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	secret, cred, err := s.newSecret(now, 0)
	if err != nil {
		return nil, "", err
	}
	rec := &spRecord{TenantID: tenantID, AppID: appID, ObjectID: objID, DisplayName: displayName,
		Secrets: []secretRecord{cred}, CreatedAt: now}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); err != nil {
			return fmt.Errorf("authn: tenant %q: %w", tenantID, err)
		}
		return putSP(ctx, tx, rec, now)
	})
	s.principals.invalidate(spKey(tenantID, appID)) // a lookup before it existed
	if err != nil {
		return nil, "", err
	}
	return rec.public(), secret, nil
}

// ServicePrincipal returns a service principal by tenant and client id;
// the error wraps store.ErrNotFound if there is none.
func (s *Service) ServicePrincipal(ctx context.Context, tenantID, appID string) (*ServicePrincipal, error) {
	var rec *spRecord
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		rec, err = getSP(ctx, tx, tenantID, appID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rec.public(), nil
}

// AddClientSecret adds a client secret to a service principal and returns
// it (the only time it is visible) with its description. It is valid for
// Config.SecretLifetime.
func (s *Service) AddClientSecret(ctx context.Context, tenantID, appID string) (string, PasswordCredential, error) {
	return s.addSecret(ctx, tenantID, appID, SecretOptions{Keep: true})
}

// SecretOptions adjust ResetClientSecret.
type SecretOptions struct {
	// Lifetime is how long the new secret is valid: 0 takes
	// Config.SecretLifetime; negative: it does not expire.
	Lifetime time.Duration
	// Keep keeps the principal's other secrets (az ad sp credential
	// reset --append); by default they are removed.
	Keep bool
	// DisplayName describes the secret.
	DisplayName string
}

// ResetClientSecret gives a service principal a new client secret and,
// unless opt.Keep, removes every other one, in one transaction: the old
// secrets stop working at once and the tokens issued for them are
// refused (Verify); it then also lifts a lockout. It returns the secret (the
// only time it is visible) with its description.
func (s *Service) ResetClientSecret(ctx context.Context, tenantID, appID string, opt SecretOptions) (string, PasswordCredential, error) {
	return s.addSecret(ctx, tenantID, appID, opt)
}

func (s *Service) addSecret(ctx context.Context, tenantID, appID string, opt SecretOptions) (string, PasswordCredential, error) {
	now := s.now()
	secret, cred, err := s.newSecret(now, opt.Lifetime)
	if err != nil {
		return "", PasswordCredential{}, err
	}
	cred.DisplayName = opt.DisplayName
	err = s.updateSP(ctx, tenantID, appID, func(r *spRecord) {
		if !opt.Keep {
			r.Secrets = nil
			r.LockedUntil = time.Time{}
		}
		r.Secrets = append(r.Secrets, cred)
	})
	if err != nil {
		return "", PasswordCredential{}, err
	}
	if !opt.Keep {
		s.attempts.succeed(clientKey(strings.ToLower(tenantID), appID), "") // this replica's counts too
	}
	return secret, PasswordCredential{KeyID: cred.KeyID, DisplayName: cred.DisplayName, Hint: cred.Hint, Start: cred.Start, End: cred.End}, nil
}

// RemoveClientSecret deletes a client secret by key id; the error wraps
// store.ErrNotFound if the principal or the secret does not exist.
func (s *Service) RemoveClientSecret(ctx context.Context, tenantID, appID, keyID string) error {
	found := false
	err := s.updateSP(ctx, tenantID, appID, func(r *spRecord) {
		found = false // fn may run again on retry
		kept := r.Secrets[:0:0]
		for _, c := range r.Secrets {
			if strings.EqualFold(c.KeyID, keyID) {
				found = true
				continue
			}
			kept = append(kept, c)
		}
		r.Secrets = kept
	})
	if err == nil && !found {
		err = fmt.Errorf("authn: client secret %q: %w", keyID, store.ErrNotFound)
	}
	return err
}

// SetRoles replaces the app roles issued in the principal's roles claim.
func (s *Service) SetRoles(ctx context.Context, tenantID, appID string, roles []string) error {
	return s.updateSP(ctx, tenantID, appID, func(r *spRecord) { r.Roles = append([]string(nil), roles...) })
}

// SetAccountEnabled enables or disables a service principal (Graph's
// accountEnabled). A disabled one gets no tokens (AADSTS7000112) and the
// tokens it has are refused.
func (s *Service) SetAccountEnabled(ctx context.Context, tenantID, appID string, enabled bool) error {
	return s.updateSP(ctx, tenantID, appID, func(r *spRecord) { r.Disabled = !enabled })
}

// DeleteServicePrincipal deletes a service principal and its secrets;
// the tokens it has are refused. The error wraps store.ErrNotFound if it
// does not exist.
func (s *Service) DeleteServicePrincipal(ctx context.Context, tenantID, appID string) error {
	err := s.st.Write(ctx, func(tx store.Tx) error {
		rec, err := getSP(ctx, tx, tenantID, appID)
		if err != nil {
			return err
		}
		if err := tx.DeleteObject(ctx, KindServicePrincipal, spKey(tenantID, appID)); err != nil {
			return err
		}
		return removeMemberships(ctx, tx, tenantID, rec.ObjectID, s.now())
	})
	s.principals.invalidate(spKey(tenantID, appID))
	return err
}

func (s *Service) updateSP(ctx context.Context, tenantID, appID string, change func(*spRecord)) error {
	now := s.now()
	err := s.st.Write(ctx, func(tx store.Tx) error {
		rec, err := getSP(ctx, tx, tenantID, appID)
		if err != nil {
			return err
		}
		change(rec)
		return putSP(ctx, tx, rec, now)
	})
	// Also after a failure: the commit's outcome may be unknown.
	s.principals.invalidate(spKey(tenantID, appID))
	return err
}

func getSP(ctx context.Context, tx store.Tx, tenantID, appID string) (*spRecord, error) {
	o, err := tx.GetObject(ctx, KindServicePrincipal, spKey(tenantID, appID))
	if err != nil {
		return nil, fmt.Errorf("authn: service principal %q in tenant %q: %w", appID, tenantID, err)
	}
	var rec spRecord
	if err := json.Unmarshal(o.Body, &rec); err != nil {
		return nil, fmt.Errorf("authn: service principal %s: %w", o.Key, err)
	}
	return &rec, nil
}

func putSP(ctx context.Context, tx store.Tx, rec *spRecord, now time.Time) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.PutObject(ctx, &store.Object{Kind: KindServicePrincipal, Key: spKey(rec.TenantID, rec.AppID), Body: body, UpdatedAt: now})
}

// newSecret makes a client secret: 30 random bytes, base64url (40
// characters), and its salted hash. It is valid for lifetime (0:
// Config.SecretLifetime; negative: no expiry).
func (s *Service) newSecret(now time.Time, lifetime time.Duration) (string, secretRecord, error) {
	var b [30]byte
	if _, err := io.ReadFull(s.cfg.Rand, b[:]); err != nil {
		return "", secretRecord{}, fmt.Errorf("authn: random: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	salt := make([]byte, 16)
	if _, err := io.ReadFull(s.cfg.Rand, salt); err != nil {
		return "", secretRecord{}, fmt.Errorf("authn: random: %w", err)
	}
	keyID, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return "", secretRecord{}, err
	}
	rec := secretRecord{KeyID: keyID, Hint: secret[:3], Salt: salt, Hash: hashSecret(salt, secret), Start: now}
	if lifetime == 0 {
		lifetime = s.cfg.SecretLifetime
	}
	if lifetime > 0 {
		rec.End = now.Add(lifetime)
	}
	return secret, rec, nil
}

func hashSecret(salt []byte, secret string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

// matchSecret returns the credential the secret belongs to, or nil. Every
// credential is compared (in constant time), whether or not one matched.
func matchSecret(creds []secretRecord, secret string) *secretRecord {
	var found *secretRecord
	for i := range creds {
		if subtle.ConstantTimeCompare(hashSecret(creds[i].Salt, secret), creds[i].Hash) == 1 {
			found = &creds[i]
		}
	}
	return found
}
