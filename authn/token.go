package authn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Token is an issued access token.
type Token struct {
	AccessToken string
	TokenType   string // "Bearer"
	// ExpiresIn is the lifetime in seconds (expires_in).
	ExpiresIn int64
	ExpiresOn time.Time
	// Audience is the aud claim: the resource the token is for.
	Audience string
	KeyID    string
	uti      string // for the sign-in log
}

// accessClaims are the claims of an app-only access token, in the order
// Entra writes them. Both the v1 client claims (appid, appidacr) that ARM
// reads and their v2 names (azp, azpacr) are present; ver is "1.0"
// because Entra issues v1 tokens to ARM even through the v2 endpoint.
type accessClaims struct {
	Aud            string   `json:"aud"`
	Iss            string   `json:"iss"`
	Iat            int64    `json:"iat"`
	Nbf            int64    `json:"nbf"`
	Exp            int64    `json:"exp"`
	AppDisplayName string   `json:"app_displayname,omitempty"`
	AppID          string   `json:"appid"`
	AppIDACR       string   `json:"appidacr"`
	Azp            string   `json:"azp"`
	AzpACR         string   `json:"azpacr"`
	IDP            string   `json:"idp"`
	IDTyp          string   `json:"idtyp"`
	OID            string   `json:"oid"`
	Cred           string   `json:"mlgov_cred"` // CredentialClaim
	Roles          []string `json:"roles,omitempty"`
	Sub            string   `json:"sub"`
	TID            string   `json:"tid"`
	UTI            string   `json:"uti"`
	Ver            string   `json:"ver"`
	// MIResource is a managed identity's resource id (managed
	// identities' tokens only).
	MIResource string `json:"xms_mirid,omitempty"`
	// MIHost is the resource a user-assigned identity's token was
	// asked from (Azure's xms_az_rid).
	MIHost string `json:"xms_az_rid,omitempty"`
	// Users' tokens only.
	UPN        string   `json:"upn,omitempty"`
	UniqueName string   `json:"unique_name,omitempty"`
	Name       string   `json:"name,omitempty"`
	Scp        string   `json:"scp,omitempty"`
	Amr        []string `json:"amr,omitempty"`
}

// reserved OpenID scopes a client may add to a client-credentials
// request; they are ignored.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// TokenRequest is a client-credentials token request.
type TokenRequest struct {
	TenantID, ClientID, ClientSecret, Scope string
	// ClientAssertion is a certificate's JWT (certificates.go), instead
	// of ClientSecret.
	ClientAssertion string
	// ClientAddress is the IP address the request came from; "" (not
	// known) is not throttled per address.
	ClientAddress string
	// CorrelationID is the client's request id, for the sign-in log.
	CorrelationID string
}

// TokenForClientSecret is the client-credentials grant for in-process
// callers that hold the Service (tests, tools): it authenticates and
// issues as ClientCredentials does, with the same errors, but without the
// token endpoint's protections: it is neither throttled nor locked out
// and writes nothing to the sign-in log. The token endpoint (api/oauth)
// uses ClientCredentials.
func (s *Service) TokenForClientSecret(ctx context.Context, tenantID, clientID, clientSecret, scope string) (*Token, error) {
	return s.clientCredentials(ctx, TokenRequest{TenantID: tenantID, ClientID: clientID, ClientSecret: clientSecret, Scope: scope}, false)
}

// ClientCredentials runs the client-credentials grant: it authenticates
// the service principal r.ClientID of r.TenantID with r.ClientSecret and
// issues an access token for the resource named by r.Scope
// ("https://management.azure.com/.default"), valid for TokenLifetime but
// not past the secret's expiry. Failures are *OAuthError values with
// Entra's codes: unknown tenant → invalid_request (AADSTS90002), unknown
// client → unauthorized_client (AADSTS700016), wrong or expired secret →
// invalid_client (AADSTS7000215, 7000222), disabled client →
// unauthorized_client (AADSTS7000112), missing parameter →
// invalid_request (AADSTS900144), scope without /.default →
// invalid_scope (AADSTS1002012), another resource → invalid_resource
// (AADSTS500011), throttled → ErrThrottled, locked out → ErrLockedOut
// (both with RetryAfter; see Throttle). Every attempt against a tenant
// that exists is written to the sign-in log (signin.go) before it
// returns. Other errors are internal.
func (s *Service) ClientCredentials(ctx context.Context, r TokenRequest) (*Token, error) {
	return s.clientCredentials(ctx, r, true)
}

// clientCredentials is ClientCredentials; guarded says whether it is
// throttled and logged (TokenForClientSecret's is not).
func (s *Service) clientCredentials(ctx context.Context, r TokenRequest, guarded bool) (*Token, error) {
	tenantID := strings.ToLower(r.TenantID)
	now := s.now()
	var rec *spRecord
	var oerr *OAuthError
	err := s.st.Read(ctx, func(tx store.Tx) error {
		rec, oerr = nil, nil
		if !uuid.Valid(tenantID) {
			oerr = TenantNotFound("invalid_request", tenantID)
			return nil
		}
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); errors.Is(err, store.ErrNotFound) {
			oerr = TenantNotFound("invalid_request", tenantID)
			return nil
		} else if err != nil {
			return err
		}
		if r.ClientID == "" {
			return nil
		}
		var err error
		if rec, err = getSP(ctx, tx, tenantID, r.ClientID); errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if oerr != nil {
		return nil, oerr // no tenant: nothing to log it in
	}
	si := &SignIn{CreatedDateTime: now, AppID: r.ClientID, IPAddress: r.ClientAddress, CorrelationID: r.CorrelationID,
		ClientCredentialType: "clientSecret", HomeTenantID: tenantID, ResourceTenantID: tenantID,
		SignInEventTypes: []string{"servicePrincipal"}, ConditionalAccessStatus: "notApplied", AppliedConditionalAccessPolicies: []AppliedPolicy{}}
	if len(si.AppID) > 128 {
		si.AppID = si.AppID[:128]
	}
	switch {
	case r.ClientAssertion != "":
		si.ClientCredentialType = "certificate"
	case r.ClientSecret == "":
		si.ClientCredentialType = "none"
	}
	if rec != nil {
		si.AppDisplayName, si.ServicePrincipalID = rec.DisplayName, rec.ObjectID
	}
	tok, oerr, err := s.authenticate(ctx, r, tenantID, rec, now, si, guarded)
	if !guarded {
		if oerr != nil {
			return nil, oerr
		}
		return tok, err
	}
	var gerr error
	if si.ID, gerr = uuid.NewFrom(s.cfg.Rand); gerr != nil {
		return nil, errors.Join(gerr, err)
	}
	switch {
	case err != nil:
		si.Status = SignInStatus{ErrorCode: 50000, FailureReason: "An internal error occurred."}
	case oerr != nil:
		si.Status = SignInStatus{ErrorCode: oerr.AADSTS, FailureReason: clip(oerr.Description)}
		if oerr.RetryAfter > 0 {
			si.Status.AdditionalDetails = fmt.Sprintf("Answered 429 with Retry-After: %d.", retrySeconds(oerr.RetryAfter))
		}
	}
	if lerr := s.logSignIn(ctx, si); lerr != nil {
		return nil, errors.Join(lerr, err)
	}
	switch {
	case err != nil:
		return nil, err
	case oerr != nil:
		return nil, oerr
	}
	return tok, nil
}

// retrySeconds rounds a Retry-After up to whole seconds (at least 1).
func retrySeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// authenticate is ClientCredentials after the tenant and the client are
// read (rec nil: no such client); it fills in si what it learns. Unless
// guarded, nothing is throttled or counted.
func (s *Service) authenticate(ctx context.Context, r TokenRequest, tenantID string, rec *spRecord, now time.Time, si *SignIn, guarded bool) (*Token, *OAuthError, error) {
	if r.ClientID == "" {
		return nil, MissingParameter("client_id"), nil
	}
	ck, ak := clientKey(tenantID, r.ClientID), addressKey(r.ClientAddress)
	locked := s.attempts.lockedUntil(ck)
	if rec != nil {
		locked = rec.LockedUntil
	}
	if guarded && now.Before(locked) {
		return nil, lockedOut(r.ClientID, locked.Sub(now)), nil
	}
	// lockOut locks the client out: in its store record, so that every
	// replica honours it, or in memory for an id that names no client.
	lockOut := func() (*Token, *OAuthError, error) {
		until := now.Add(s.cfg.Throttle.LockoutDuration)
		if rec == nil {
			s.attempts.lockMemory(ck, until)
		} else if err := s.updateSP(ctx, tenantID, rec.AppID, func(r *spRecord) { r.LockedUntil = until }); err != nil {
			return nil, nil, err
		}
		return nil, lockedOut(r.ClientID, s.cfg.Throttle.LockoutDuration), nil
	}
	// failed counts a failure towards the lockout.
	failed := func(oerr *OAuthError) (*Token, *OAuthError, error) {
		if guarded && s.attempts.fail(ck, now) {
			return lockOut()
		}
		return nil, oerr, nil
	}
	if guarded {
		if retry, which, lock := s.attempts.admit(ck, ak, now); lock {
			return lockOut()
		} else if retry > 0 {
			return nil, throttled(which, r.ClientID, r.ClientAddress, retry), nil
		}
	}
	if rec == nil {
		return failed(oauthErr("unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. The application may not exist in this tenant, or the request was sent to the wrong tenant.", clip(r.ClientID), tenantID))
	}
	var cred *secretRecord
	switch {
	case r.ClientAssertion != "":
		var oe *OAuthError
		if cred, oe = s.verifyAssertion(rec, r.ClientAssertion, tenantID, now); oe != nil {
			return failed(oe)
		}
		si.ServicePrincipalCredentialKeyID = cred.KeyID
	case r.ClientSecret == "":
		return failed(oauthErr("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."))
	default:
		if cred = matchSecret(rec.Secrets, r.ClientSecret); cred == nil {
			return failed(oauthErr("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", rec.AppID))
		}
		si.ServicePrincipalCredentialKeyID = cred.KeyID
		if !cred.End.IsZero() && !now.Before(cred.End) {
			return failed(oauthErr("invalid_client", 7000222, "The provided client secret keys for app '%s' are expired. Create a new client secret for the app.", rec.AppID))
		}
		if now.Before(cred.Start) {
			return failed(oauthErr("invalid_client", 7000215, "Invalid client secret provided: the secret for app '%s' is not valid yet.", rec.AppID))
		}
	}
	if guarded {
		s.attempts.succeed(ck, ak)
	}
	if rec.Disabled {
		return nil, oauthErr("unauthorized_client", 7000112, "Application '%s'(%s) is disabled.", rec.AppID, rec.DisplayName), nil
	}
	if rec.NoServicePrincipal {
		return nil, oauthErr("invalid_client", 7000229, "The client application %s is missing service principal in the tenant %s.", rec.AppID, tenantID), nil
	}
	aud, oerr := resourceOf(r.Scope, tenantID)
	if oerr != nil {
		return nil, oerr, nil
	}
	si.ResourceID, si.ResourceDisplayName = resourceApp(aud), resourceAppName(aud)
	applied, blocked, err := s.evaluateCA(ctx, tenantID, rec.ObjectID, aud, r.ClientAddress)
	if err != nil {
		return nil, nil, err
	}
	if oerr := si.recordCA(applied, blocked, false); oerr != nil {
		return nil, oerr, nil
	}
	tok, err := s.issue(ctx, rec, cred, aud, now)
	if err != nil {
		return nil, nil, err
	}
	si.UniqueTokenIdentifier = tok.uti
	return tok, nil, nil
}

// throttled is ErrThrottled for a client id or an address.
func throttled(which, clientID, addr string, retry time.Duration) *OAuthError {
	e := oauthErr(ErrThrottled.Code, ErrThrottled.AADSTS, "Too many failed sign-in attempts of application '%s' in a short time; retry after %d seconds.", clip(clientID), retrySeconds(retry))
	if which == "address" {
		e.Description = fmt.Sprintf("Too many failed sign-in attempts from address '%s' in a short time; retry after %d seconds.", clip(addr), retrySeconds(retry))
	}
	e.RetryAfter = retry
	return e
}

// lockedOut is ErrLockedOut.
func lockedOut(clientID string, retry time.Duration) *OAuthError {
	e := oauthErr(ErrLockedOut.Code, ErrLockedOut.AADSTS, "Application '%s' is locked out after too many failed sign-in attempts; retry after %d seconds, or reset its secret (mlgov directory sp credential reset).", clip(clientID), retrySeconds(retry))
	e.RetryAfter = retry
	return e
}

// resourceOf returns the audience a client-credentials scope asks for.
func resourceOf(scope, tenantID string) (string, *OAuthError) {
	var resources []string
	for _, sc := range strings.Fields(scope) {
		if !oidcScopes[strings.ToLower(sc)] {
			resources = append(resources, sc)
		}
	}
	switch len(resources) {
	case 0:
		return "", MissingParameter("scope")
	case 1:
	default:
		return "", oauthErr("invalid_scope", 28000, "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", scope)
	}
	sc := resources[0]
	res, ok := strings.CutSuffix(sc, "/.default")
	if !ok || res == "" {
		return "", oauthErr("invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)
	}
	for _, a := range slices.Concat(Audiences, GraphAudiences, MLAudiences) {
		if strings.EqualFold(res, a) {
			return a, nil
		}
	}
	return "", oauthErr("invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s. This server issues tokens only for Azure Resource Manager (https://management.azure.com/), Microsoft Graph (https://graph.microsoft.com/) and Azure Machine Learning (https://ml.azure.com/).", res, tenantID)
}

// issue signs a token for sp, which authenticated with cred. It expires
// after TokenLifetime, or when cred does if that is sooner.
func (s *Service) issue(ctx context.Context, sp *spRecord, cred *secretRecord, aud string, now time.Time) (*Token, error) {
	return s.issueWith(ctx, sp, cred, aud, now, nil)
}

// issueWith is issue with the claims adjusted by adjust (nil: none).
func (s *Service) issueWith(ctx context.Context, sp *spRecord, cred *secretRecord, aud string, now time.Time, adjust func(*accessClaims)) (*Token, error) {
	key, err := s.activeKey(ctx)
	if err != nil {
		return nil, err
	}
	return s.issueWithKey(key, sp, cred, aud, now, adjust)
}

// activeKey returns the signing key tokens are signed with, made if the
// store has none. It reads the store: a caller inside a write
// transaction gets it before (issueWithKey).
func (s *Service) activeKey(ctx context.Context) (*signingKey, error) {
	ks, err := s.currentKeys(ctx)
	if err != nil {
		return nil, err
	}
	if ks.active == nil {
		if err := s.EnsureSigningKey(ctx); err != nil {
			return nil, err
		}
		if ks, err = s.currentKeys(ctx); err != nil {
			return nil, err
		}
		if ks.active == nil {
			return nil, errors.New("authn: no signing key")
		}
	}
	return ks.active, nil
}

// issueWithKey is issueWith with the signing key.
func (s *Service) issueWithKey(key *signingKey, sp *spRecord, cred *secretRecord, aud string, now time.Time, adjust func(*accessClaims)) (*Token, error) {
	uti, err := randomID(s.cfg.Rand, 16)
	if err != nil {
		return nil, err
	}
	exp := now.Add(s.cfg.TokenLifetime)
	if !cred.End.IsZero() && cred.End.Before(exp) {
		exp = cred.End
	}
	iss := s.cfg.Issuer(sp.TenantID)
	c := accessClaims{
		Aud: aud, Iss: iss, Iat: now.Unix(), Nbf: now.Unix(), Exp: exp.Unix(),
		AppDisplayName: sp.DisplayName,
		AppID:          sp.AppID, AppIDACR: "1", Azp: sp.AppID, AzpACR: "1",
		IDP: iss, IDTyp: "app", OID: sp.ObjectID, Cred: cred.KeyID, Roles: sp.Roles, Sub: sp.ObjectID,
		TID: sp.TenantID, UTI: uti, Ver: "1.0",
	}
	if adjust != nil {
		adjust(&c)
	}
	jwt, err := sign(key, c)
	if err != nil {
		return nil, err
	}
	return &Token{AccessToken: jwt, TokenType: "Bearer", ExpiresIn: exp.Unix() - now.Unix(),
		ExpiresOn: time.Unix(exp.Unix(), 0).UTC(), Audience: aud, KeyID: key.kid, uti: uti}, nil
}

// sign serializes claims as a compact JWS with header
// {"alg":"RS256","kid":...,"typ":"JWT"}.
func sign(k *signingKey, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("authn: signer: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("authn: sign: %w", err)
	}
	return obj.CompactSerialize()
}

// randomID returns n random bytes, base64url-encoded (Entra's uti is 16
// bytes, 22 characters).
func randomID(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("authn: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
