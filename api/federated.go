package api

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/federation"
)

// Federated authenticates the tokens of a trusted external issuer
// (serve --oidc-issuer): it answers whether a token is the issuer's
// (by its iss claim, unverified) and, if so, the caller it verifies.
type Federated struct {
	Issuer *federation.Issuer
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
	return &activitylog.Caller{Name: id.Name, ObjectID: id.ObjectID, TenantID: id.TenantID, Type: "User", Groups: id.Groups, Claims: claims}, true, nil
}
