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
// resource in xms_mirid, as Entra's do. Verify accepts such a token only
// while Config.ManagedIdentity says the resource still has that
// identity (asked again after PrincipalCacheTTL): deleting the compute,
// or removing its identity, stops its tokens.

// managedIdentityCredential is the mlgov_cred claim of managed
// identities' tokens (they have no secret).
const managedIdentityCredential = "managed-identity"

// IssueManagedIdentityToken issues a token for the managed identity
// objectID of the resource resourceID, for the resource scope (an
// audience mlgov issues tokens for: ARM, Graph, Azure Machine
// Learning, with or without /.default). clientID is the identity's
// client id ("" : its object id).
func (s *Service) IssueManagedIdentityToken(ctx context.Context, tenantID, resourceID, objectID, clientID, resource string) (*Token, error) {
	if s.cfg.ManagedIdentity == nil {
		return nil, errors.New("authn: managed identities are not configured")
	}
	if !uuid.Valid(objectID) {
		return nil, errors.New("authn: a managed identity's object id is a GUID")
	}
	scope := strings.TrimSuffix(resource, "/.default") + "/.default"
	aud, oerr := resourceOf(scope, tenantID)
	if oerr != nil {
		return nil, oerr
	}
	if clientID == "" {
		clientID = objectID
	}
	now := s.now()
	sp := &spRecord{TenantID: strings.ToLower(tenantID), AppID: clientID, ObjectID: strings.ToLower(objectID), DisplayName: resourceID[strings.LastIndexByte(resourceID, '/')+1:]}
	cred := &secretRecord{KeyID: managedIdentityCredential}
	return s.issueWith(ctx, sp, cred, aud, now, func(c *accessClaims) {
		c.AppIDACR, c.AzpACR, c.MIResource = "2", "2", resourceID
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
	key := "mi/" + strings.ToLower(p.TenantID) + "/" + strings.ToLower(p.ManagedIdentity) + "/" + strings.ToLower(p.ObjectID)
	if st := s.principals.get(key); st != nil && !now.Before(st.loaded) && now.Sub(st.loaded) < s.cfg.PrincipalCacheTTL {
		if !st.found {
			return refuse()
		}
		return nil
	}
	gen := s.principals.gen.Load()
	ok, err := s.cfg.ManagedIdentity(ctx, p.TenantID, p.ManagedIdentity, p.ObjectID)
	if err != nil {
		return err
	}
	s.principals.put(key, &principalState{loaded: now, found: ok, objectID: strings.ToLower(p.ObjectID), creds: slices.Clip([]string{managedIdentityCredential})}, gen)
	if !ok {
		return refuse()
	}
	return nil
}
