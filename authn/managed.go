package authn

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
)

// Managed identities' tokens. A managed identity is a service principal
// without a secret: its resource (a compute's system-assigned identity,
// a user-assigned identity) is what makes it exist. Its tokens are
// issued to whoever runs as it (the runner of a job on the compute,
// which asks with the job's token: resources/jobs.go), and name the
// resource in xms_mirid, as Entra's do; a user-assigned identity's
// token names the resource it was asked from (the compute) in
// xms_az_rid. Verify accepts such a token only while
// Config.ManagedIdentity says the resource still has that identity,
// and the host still names it (asked again after PrincipalCacheTTL, or
// at once after ForgetManagedIdentities): deleting the compute,
// removing its identity, or deleting the user-assigned identity stops
// its tokens.

// managedIdentityCredential is the mlgov_cred claim of managed
// identities' tokens (they have no secret).
const managedIdentityCredential = "managed-identity"

// ManagedIdentity names a managed identity to issue a token for.
type ManagedIdentity struct {
	// ResourceID is its resource (xms_mirid): the resource of a
	// system-assigned identity, or the userAssignedIdentities resource.
	ResourceID string
	// ObjectID is its principal id (oid); ClientID its client id (appid;
	// "": the object id).
	ObjectID, ClientID string
	// Host is the resource a user-assigned identity is used from (the
	// compute; the token's xms_az_rid): the token is accepted while the
	// host names the identity. "" for a system-assigned identity.
	Host string
}

// IssueManagedIdentityToken issues a token of the managed identity mi
// of the tenant, for the resource scope (an audience mlgov issues
// tokens for: ARM, Graph, Azure Machine Learning, with or without
// /.default).
func (s *Service) IssueManagedIdentityToken(ctx context.Context, tenantID string, mi ManagedIdentity, resource string) (*Token, error) {
	if s.cfg.ManagedIdentity == nil {
		return nil, errors.New("authn: managed identities are not configured")
	}
	if !uuid.Valid(mi.ObjectID) {
		return nil, errors.New("authn: a managed identity's object id is a GUID")
	}
	scope := strings.TrimSuffix(resource, "/.default") + "/.default"
	aud, oerr := resourceOf(scope, tenantID)
	if oerr != nil {
		return nil, oerr
	}
	clientID := mi.ClientID
	if clientID == "" {
		clientID = mi.ObjectID
	}
	now := s.now()
	sp := &spRecord{TenantID: strings.ToLower(tenantID), AppID: clientID, ObjectID: strings.ToLower(mi.ObjectID), DisplayName: mi.ResourceID[strings.LastIndexByte(mi.ResourceID, '/')+1:]}
	cred := &secretRecord{KeyID: managedIdentityCredential}
	return s.issueWith(ctx, sp, cred, aud, now, func(c *accessClaims) {
		c.AppIDACR, c.AzpACR, c.MIResource = "2", "2", mi.ResourceID
		if !strings.EqualFold(mi.Host, mi.ResourceID) {
			c.MIHost = mi.Host
		}
	})
}

// ForgetManagedIdentities drops what Verify cached of managed
// identities (after a write that may have changed which resources have
// which identities: a compute's, a user-assigned identity's).
func (s *Service) ForgetManagedIdentities() {
	c := &s.principals
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	c.m.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), "mi/") {
			if _, ok := c.m.LoadAndDelete(k); ok {
				c.n.Add(-1)
			}
		}
		return true
	})
}

// checkManagedIdentity is checkPrincipal for a managed identity's
// token.
func (s *Service) checkManagedIdentity(ctx context.Context, p *Principal, now time.Time) error {
	refuse := func() error {
		return tokenErr(ErrUnknownPrincipal, "The access token is invalid: the managed identity '%s' of '%s' does not exist in tenant '%s'.", clip(p.ObjectID), clip(p.ManagedIdentity), p.TenantID)
	}
	if s.cfg.ManagedIdentity == nil || p.Type != "ServicePrincipal" || p.CredentialID != managedIdentityCredential || !uuid.Valid(p.ObjectID) {
		return refuse()
	}
	key := "mi/" + strings.ToLower(p.TenantID) + "/" + strings.ToLower(p.ManagedIdentity) + "/" + strings.ToLower(p.ObjectID) + "/" + strings.ToLower(p.ManagedIdentityHost)
	if st := s.principals.get(key); st != nil && !now.Before(st.loaded) && now.Sub(st.loaded) < s.cfg.PrincipalCacheTTL {
		if !st.found {
			return refuse()
		}
		return nil
	}
	gen := s.principals.gen.Load()
	ok, err := s.cfg.ManagedIdentity(ctx, p.TenantID, p.ManagedIdentityHost, p.ManagedIdentity, p.ObjectID)
	if err != nil {
		return err
	}
	s.principals.put(key, &principalState{loaded: now, found: ok, objectID: strings.ToLower(p.ObjectID), creds: slices.Clip([]string{managedIdentityCredential})}, gen)
	if !ok {
		return refuse()
	}
	return nil
}
