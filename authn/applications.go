package authn

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Applications and their service principals, as Microsoft Graph has
// them: an application (its object id, its appId, its client secrets)
// is created first; a service principal for it in the tenant (its own
// object id, the one RBAC names) makes it able to sign in. One record
// holds both (spRecord): CreateServicePrincipal makes them together,
// CreateApplication the application alone.

// CreateApplication creates an application without a service principal
// and without secrets (Graph's POST /applications): it gets no tokens
// until CreateServicePrincipalFor.
func (s *Service) CreateApplication(ctx context.Context, tenantID, displayName string) (*ServicePrincipal, error) {
	tenantID = strings.ToLower(tenantID)
	ids := make([]string, 3)
	for i := range ids {
		var err error
		if ids[i], err = uuid.NewFrom(s.cfg.Rand); err != nil {
			return nil, err
		}
	}
	now := s.now()
	rec := &spRecord{TenantID: tenantID, AppID: ids[0], ObjectID: ids[1], AppObjectID: ids[2], DisplayName: displayName,
		NoServicePrincipal: true, CreatedAt: now}
	err := s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); err != nil {
			return fmt.Errorf("authn: tenant %q: %w", tenantID, err)
		}
		return putSP(ctx, tx, rec, now)
	})
	if err != nil {
		return nil, err
	}
	return rec.public(), nil
}

// CreateServicePrincipalFor creates the service principal of an
// application (Graph's POST /servicePrincipals {appId}); the error wraps
// store.ErrConflict when it has one, store.ErrNotFound when there is no
// such application.
func (s *Service) CreateServicePrincipalFor(ctx context.Context, tenantID, appID string) (*ServicePrincipal, error) {
	var out *ServicePrincipal
	err := s.st.Write(ctx, func(tx store.Tx) error {
		rec, err := getSP(ctx, tx, tenantID, appID)
		if err != nil {
			return err
		}
		if !rec.NoServicePrincipal {
			return fmt.Errorf("authn: application %s has a service principal: %w", appID, store.ErrConflict)
		}
		rec.NoServicePrincipal = false
		out = rec.public()
		return putSP(ctx, tx, rec, s.now())
	})
	s.principals.invalidate(spKey(tenantID, appID))
	return out, err
}

// DeleteServicePrincipalOf deletes an application's service principal,
// not the application (Graph's DELETE /servicePrincipals/{id}): its
// tokens are refused, and it leaves its groups.
func (s *Service) DeleteServicePrincipalOf(ctx context.Context, tenantID, appID string) error {
	err := s.st.Write(ctx, func(tx store.Tx) error {
		rec, err := getSP(ctx, tx, tenantID, appID)
		if err != nil {
			return err
		}
		if rec.NoServicePrincipal {
			return fmt.Errorf("authn: application %s has no service principal: %w", appID, store.ErrNotFound)
		}
		rec.NoServicePrincipal = true
		if err := putSP(ctx, tx, rec, s.now()); err != nil {
			return err
		}
		return removeMemberships(ctx, tx, tenantID, rec.ObjectID, s.now())
	})
	s.principals.invalidate(spKey(tenantID, appID))
	return err
}

// ServicePrincipals lists the applications of a tenant (with their
// service principals, when they have one), ordered by creation.
func (s *Service) ServicePrincipals(ctx context.Context, tenantID string) ([]*ServicePrincipal, error) {
	var out []*ServicePrincipal
	err := s.st.Read(ctx, func(tx store.Tx) error {
		objs, err := tx.ListObjects(ctx, KindServicePrincipal)
		if err != nil {
			return err
		}
		prefix := strings.ToLower(tenantID) + "/"
		for _, o := range objs {
			if !strings.HasPrefix(o.Key, prefix) {
				continue
			}
			var rec spRecord
			if err := json.Unmarshal(o.Body, &rec); err != nil {
				return fmt.Errorf("authn: service principal %s: %w", o.Key, err)
			}
			out = append(out, rec.public())
		}
		return nil
	})
	slices.SortFunc(out, func(a, b *ServicePrincipal) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// applicationObjectID is the application's object id: the stored one,
// or for records written before applications had one, a GUID derived
// from the client id (stable, and not the client id itself).
func (r *spRecord) applicationObjectID() string {
	if r.AppObjectID != "" {
		return r.AppObjectID
	}
	h := sha256.Sum256([]byte("application:" + strings.ToLower(r.AppID)))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// leaveGroups removes an object from every group of the tenant.
func leaveGroups(ctx context.Context, tx store.Tx, tenantID, objectID string, now time.Time) error {
	gs, err := tenantGroups(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	for _, g := range gs {
		n := len(g.Members)
		g.Members = slices.DeleteFunc(g.Members, func(m string) bool { return strings.EqualFold(m, objectID) })
		if len(g.Members) != n {
			if err := putGroup(ctx, tx, g, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrAppInvalid marks application settings mlgov refuses (the message
// says why).
var ErrAppInvalid = errors.New("authn: invalid application")

// AppClient are an application's sign-in settings; nil fields are kept.
type AppClient struct {
	// RedirectURIs and SPARedirectURIs are the redirect URIs of the
	// authorization code flow (Graph's publicClient.redirectUris and
	// spa.redirectUris).
	RedirectURIs, SPARedirectURIs []string
	// PublicClient allows the device code flow (isFallbackPublicClient).
	PublicClient *bool
}

// Validate checks the settings (ErrAppInvalid says what is wrong).
func (c AppClient) Validate() error {
	if len(c.RedirectURIs)+len(c.SPARedirectURIs) > 256 {
		return fmt.Errorf("%w: an application has at most 256 redirect URIs", ErrAppInvalid)
	}
	for _, u := range slices.Concat(c.RedirectURIs, c.SPARedirectURIs) {
		pu, err := url.Parse(u)
		if err != nil || pu.Fragment != "" || pu.Host == "" || !(pu.Scheme == "https" || loopback(u)) {
			return fmt.Errorf("%w: the redirect URI '%s' is not an https URL, or an http URL of a loopback address, without a fragment", ErrAppInvalid, clip(u))
		}
	}
	return nil
}

// SetPublicClient sets an application's sign-in settings. A redirect URI
// is https, or http on a loopback address (RFC 8252), without a
// fragment.
func (s *Service) SetPublicClient(ctx context.Context, tenantID, appID string, c AppClient) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx store.Tx) error {
		rec, err := getSP(ctx, tx, tenantID, appID)
		if err != nil {
			return err
		}
		if c.RedirectURIs != nil {
			rec.RedirectURIs = slices.Compact(slices.Sorted(slices.Values(c.RedirectURIs)))
		}
		if c.SPARedirectURIs != nil {
			rec.SPARedirectURIs = slices.Compact(slices.Sorted(slices.Values(c.SPARedirectURIs)))
		}
		if c.PublicClient != nil {
			rec.PublicClient = *c.PublicClient
		}
		return putSP(ctx, tx, rec, s.now())
	})
}
