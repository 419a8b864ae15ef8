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

// tokenAuth adapts the token service to api.Authenticator.
type tokenAuth struct {
	svc      *authn.Service
	endpoint string
	tenantID string
	cache    verifiedTokens
}

func (a *tokenAuth) Authenticate(ctx context.Context, header string) (*activitylog.Caller, error) {
	tok, err := authn.BearerToken(header)
	if err == nil {
		now := time.Now()
		if c := a.cache.get(tok, now); c != nil {
			return c, nil
		}
		var p *authn.Principal
		if p, err = a.svc.Verify(ctx, tok); err == nil {
			if err = a.svc.CheckTenant(p, a.tenantID); err == nil {
				name := p.DisplayName
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
				a.cache.put(tok, c, until, now)
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
// and CheckTenant are remembered; like Verify, the cache does not look up
// the principal again.
const (
	verifiedTokenTTL = time.Minute
	verifiedTokenMax = 4096
)

type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	caller *activitylog.Caller
	until  time.Time
}

// get returns a copy of the caller of a remembered token that is still
// valid at now, or nil.
func (v *verifiedTokens) get(key string, now time.Time) *activitylog.Caller {
	v.mu.Lock()
	e, ok := v.m[key]
	v.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return nil
	}
	c := *e.caller
	return &c
}

func (v *verifiedTokens) put(key string, c *activitylog.Caller, until, now time.Time) {
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
	v.m[strings.Clone(key)] = verifiedToken{caller: &cp, until: until} // not the request's header
}
