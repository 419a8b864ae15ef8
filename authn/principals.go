package authn

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Tokens are tied to live principals and to the credential they were
// issued with.
//
// A token names its principal by tid + appid (the store key of the
// service principal) and oid (which must be that principal's object id),
// and its credential by the claim CredentialClaim: the keyId of the
// client secret that was presented to get it. Verify refuses the token
// once the principal is gone or disabled, or once that credential is no
// longer among the principal's credentials (removed, or replaced by a
// reset). A credential id rather than a per-principal generation number
// or a "valid from" time, so that rotation with overlap works: add a new
// secret, move the clients to it, remove the old one — the tokens got
// with the new secret survive the removal of the old one, and only those
// of the removed one stop working. The keyId is not secret (Graph shows
// it in passwordCredentials).
//
// Verify runs on every request, so what it needs of a principal is
// cached in memory (principalCache): each entry is trusted for
// Config.PrincipalCacheTTL (5s) and dropped at once by this service's own
// writes of the principal. Another replica, or an offline `mlgov
// directory` command, is therefore seen after at most the TTL: that is
// how long a deleted principal or a removed secret may still be honoured
// on another replica. Lookups that find nothing are cached too (only
// tokens with a valid signature get this far, so the keys are bounded by
// what this service has issued).

// CredentialClaim is the claim naming the credential (the client
// secret's keyId) a token was issued for.
const CredentialClaim = "mlgov_cred"

// principalState is what Verify needs to know of a principal. Values are
// immutable once cached.
type principalState struct {
	found    bool
	objectID string
	disabled bool
	creds    []string // key ids of the principal's credentials
	loaded   time.Time
}

// maxCachedPrincipals bounds the cache; past it, it starts over.
const maxCachedPrincipals = 1 << 16

// principalCache maps a principal's store key (spKey) to its state.
// Reads take no lock; stores and invalidations are serialized by mu, and
// gen (bumped by every invalidation) keeps a load that began before an
// invalidation from storing what it read.
type principalCache struct {
	m   sync.Map // string → *principalState
	n   atomic.Int64
	mu  sync.Mutex
	gen atomic.Uint64
}

func (c *principalCache) get(key string) *principalState {
	if v, ok := c.m.Load(key); ok {
		return v.(*principalState)
	}
	return nil
}

func (c *principalCache) put(key string, st *principalState, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return // invalidated while it was read: may be stale
	}
	if c.n.Load() >= maxCachedPrincipals {
		c.m.Clear()
		c.n.Store(0)
	}
	if _, loaded := c.m.Swap(key, st); !loaded {
		c.n.Add(1)
	}
}

// invalidate drops a principal's entry (after this service wrote it).
func (c *principalCache) invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	if _, ok := c.m.LoadAndDelete(key); ok {
		c.n.Add(-1)
	}
}

// principalState returns the cached state of the service principal
// appID of tenant tid, reading it from the store when it is not cached
// or older than PrincipalCacheTTL.
func (s *Service) principalState(ctx context.Context, tid, appID string, now time.Time) (*principalState, error) {
	key := spKey(tid, appID)
	if st := s.principals.get(key); st != nil && !now.Before(st.loaded) && now.Sub(st.loaded) < s.cfg.PrincipalCacheTTL {
		return st, nil
	}
	gen := s.principals.gen.Load()
	st := &principalState{loaded: now}
	err := s.st.Read(ctx, func(tx store.Tx) error {
		rec, err := getSP(ctx, tx, tid, appID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if rec.NoServicePrincipal {
			return nil // an application without a service principal signs nobody in
		}
		st.found, st.objectID, st.disabled = true, strings.ToLower(rec.ObjectID), rec.Disabled
		st.creds = make([]string, 0, len(rec.Secrets)+len(rec.Certs))
		for _, c := range rec.Secrets {
			st.creds = append(st.creds, strings.ToLower(c.KeyID))
		}
		for _, c := range rec.Certs {
			st.creds = append(st.creds, strings.ToLower(c.KeyID))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.principals.put(key, st, gen)
	return st, nil
}

// checkPrincipal refuses a token whose principal or credential is not
// live (ErrUnknownPrincipal, ErrPrincipalDisabled, ErrCredentialRevoked).
// Only app-only tokens name principals this directory has; any other
// token names none.
func (s *Service) checkPrincipal(ctx context.Context, p *Principal, now time.Time) error {
	if p.ManagedIdentity != "" {
		return s.checkManagedIdentity(ctx, p, now)
	}
	if p.Type == "User" && uuid.Valid(p.ObjectID) {
		return s.checkUser(ctx, p, now)
	}
	if p.Type != "ServicePrincipal" || !uuid.Valid(p.AppID) || !uuid.Valid(p.ObjectID) {
		return tokenErr(ErrUnknownPrincipal, "The access token is invalid: its principal '%s' (application '%s') does not exist in tenant '%s'.", clip(p.ObjectID), clip(p.AppID), p.TenantID)
	}
	st, err := s.principalState(ctx, p.TenantID, p.AppID, now)
	if err != nil {
		return err
	}
	switch {
	case !st.found || st.objectID != strings.ToLower(p.ObjectID):
		return tokenErr(ErrUnknownPrincipal, "The access token is invalid: its principal '%s' (application '%s') does not exist in tenant '%s'.", clip(p.ObjectID), clip(p.AppID), p.TenantID)
	case st.disabled:
		return tokenErr(ErrPrincipalDisabled, "The access token is invalid: application '%s' is disabled in tenant '%s'.", p.AppID, p.TenantID)
	case p.CredentialID == "":
		return tokenErr(ErrCredentialRevoked, "The access token is invalid: it names no credential of application '%s' (claim '%s'); get a new token.", p.AppID, CredentialClaim)
	case !slices.Contains(st.creds, strings.ToLower(p.CredentialID)):
		return tokenErr(ErrCredentialRevoked, "The access token is invalid: the credential '%s' it was issued for has been removed from application '%s'; get a new token.", clip(p.CredentialID), p.AppID)
	}
	return nil
}

// CheckPrincipal checks again that the principal of a token Verify
// accepted is still live: that it exists, is enabled and still has the
// credential the token was issued for (what Verify checks last, from the
// same cache). A caller that remembers verified tokens calls it on every
// use, so that a removed secret or a deleted principal is refused as
// soon as Verify would refuse it.
func (s *Service) CheckPrincipal(ctx context.Context, p *Principal) error {
	return s.checkPrincipal(ctx, p, s.now())
}
