package cli

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/api/oauth"
	"github.com/mlgov/mlgov/authn"
)

// verifyML verifies an Entra token for Azure Machine Learning's data
// planes (the scoring gateway's AADToken endpoints) and returns its
// caller.
func (a *tokenAuth) verifyML(ctx context.Context, tok string) (*activitylog.Caller, error) {
	p, err := a.svc.VerifyFor(ctx, tok, authn.MLAudiences)
	if err == nil {
		err = a.svc.CheckTenant(p, a.tenantID)
	}
	if err != nil {
		return nil, err
	}
	return &activitylog.Caller{Name: p.AppID, ObjectID: p.ObjectID, TenantID: p.TenantID, AppID: p.AppID, Type: p.Type}, nil
}

// tokenAuth adapts the token service to api.Authenticator.
type tokenAuth struct {
	svc      *authn.Service
	endpoint string
	tenantID string
	cache    verifiedTokens
	// fed is a trusted external issuer (--oidc-issuer; nil: none).
	fed *api.Federated
}

func (a *tokenAuth) Authenticate(ctx context.Context, header string) (*activitylog.Caller, error) {
	tok, err := authn.BearerToken(header)
	if err == nil {
		if c, ok, ferr := a.fed.Authenticate(ctx, tok); ok {
			return c, ferr
		}
		now := time.Now()
		if c, p := a.cache.get(tok, now); c != nil {
			// Remembered: the principal is looked at again (from authn's
			// cache), so that a deleted principal or a removed secret is
			// refused here as soon as Verify refuses it.
			if err = a.svc.CheckPrincipal(ctx, p); err == nil {
				return c, nil
			}
		}
		var p *authn.Principal
		if err == nil {
			p, err = a.svc.Verify(ctx, tok)
		}
		if err == nil {
			if err = a.svc.CheckTenant(p, a.tenantID); err == nil {
				// ARM names users by their UPN, applications by id.
				name, _ := p.Claims["upn"].(string)
				if p.Type != "User" || name == "" {
					name = p.AppID
				}
				if name == "" {
					name = p.ObjectID
				}
				c := &activitylog.Caller{Name: name, ObjectID: p.ObjectID, TenantID: p.TenantID, AppID: p.AppID, Type: p.Type, Claims: authn.ClaimsJSON(p)}
				until := now.Add(verifiedTokenTTL)
				if p.ExpiresAt.Before(until) {
					until = p.ExpiresAt
				}
				a.cache.put(tok, c, p, until, now)
				return c, nil
			}
		}
	}
	var te *authn.TokenError
	if errors.As(err, &te) {
		return nil, &api.AuthError{Code: te.Code, Message: te.Message, WWWAuthenticate: authn.WWWAuthenticate(a.endpoint+"/"+a.tenantID, err)}
	}
	return nil, err
}

func newOAuthHandler(svc *authn.Service, endpoint string, log *slog.Logger) http.Handler {
	return oauth.New(svc, oauth.Config{BaseURL: endpoint, Logger: log})
}

// A verified token is remembered (keyed by the token itself: a lookup
// compares it whole; hashing every token with SHA-256 took 3% of the
// server's CPU under GET load) until it expires, for at
// most verifiedTokenTTL (so that a retired signing key stops being
// honoured soon after its retention ends), so that a client's requests do
// not each pay for an RSA signature check. Only tokens that passed Verify
// and CheckTenant are remembered; each use checks the principal again
// (authn.Service.CheckPrincipal, a map lookup in authn's principal cache).
const (
	verifiedTokenTTL = time.Minute
	verifiedTokenMax = 4096
)

type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	caller    *activitylog.Caller
	principal *authn.Principal // read only
	until     time.Time
}

// get returns a copy of the caller of a remembered token that is still
// valid at now, and its principal; nil if there is none.
func (v *verifiedTokens) get(key string, now time.Time) (*activitylog.Caller, *authn.Principal) {
	v.mu.Lock()
	e, ok := v.m[key]
	v.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return nil, nil
	}
	c := *e.caller
	return &c, e.principal
}

func (v *verifiedTokens) put(key string, c *activitylog.Caller, p *authn.Principal, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	cp := *c
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]verifiedToken{}
	}
	if len(v.m) >= verifiedTokenMax {
		for k, e := range v.m {
			if !now.Before(e.until) {
				delete(v.m, k)
			}
		}
		if len(v.m) >= verifiedTokenMax {
			clear(v.m)
		}
	}
	v.m[strings.Clone(key)] = verifiedToken{caller: &cp, principal: p, until: until} // not the request's header
}
