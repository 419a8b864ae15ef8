package api

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/federation"
)

// Federated authenticates the tokens of a trusted external issuer
// (serve --oidc-issuer): it answers whether a token is the issuer's
// (by its iss claim, unverified) and, if so, the caller it verifies.
type Federated struct {
	Issuer *federation.Issuer
	// Policies, when set, applies conditional access to the verified
	// caller (its object id, groups, amr claim and address) on every
	// request: an error refuses it.
	Policies func(ctx context.Context, c *activitylog.Caller, amr []string, addr string) error
}

// Authenticate verifies tok when the issuer's (ok false: another
// issuer's token). A refused token is an *AuthError (401).
func (f *Federated) Authenticate(ctx context.Context, tok string) (c *activitylog.Caller, ok bool, err error) {
	if f == nil || f.Issuer == nil || federation.Peek(tok) != f.Issuer.Issuer() {
		return nil, false, nil
	}
	id, err := f.Issuer.Verify(ctx, tok)
	if err != nil {
		if errors.Is(err, federation.ErrInvalid) {
			return nil, true, &AuthError{Code: "InvalidAuthenticationToken", Message: err.Error()}
		}
		return nil, true, err
	}
	claims, _ := json.Marshal(id.Claims)
	c = &activitylog.Caller{Name: id.Name, ObjectID: id.ObjectID, TenantID: id.TenantID, Type: "User", Groups: id.Groups, Claims: claims}
	if f.Policies != nil {
		var amr []string
		if l, ok := id.Claims["amr"].([]any); ok {
			for _, v := range l {
				if s, ok := v.(string); ok {
					amr = append(amr, s)
				}
			}
		}
		if err := f.Policies(ctx, c, amr, ClientAddress(ctx)); err != nil {
			var oe *authn.OAuthError
			if errors.As(err, &oe) {
				return nil, true, &AuthError{Code: "InvalidAuthenticationToken", Message: oe.Description}
			}
			return nil, true, err
		}
	}
	return c, true, nil
}
