package authn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

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
	Roles          []string `json:"roles,omitempty"`
	Sub            string   `json:"sub"`
	TID            string   `json:"tid"`
	UTI            string   `json:"uti"`
	Ver            string   `json:"ver"`
}

// reserved OpenID scopes a client may add to a client-credentials
// request; they are ignored.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// TokenForClientSecret runs the client-credentials grant: it
// authenticates the service principal clientID of tenantID with
// clientSecret and issues an access token for the resource named by
// scope ("https://management.azure.com/.default"). Failures are
// *OAuthError values with Entra's codes: unknown tenant → invalid_request
// (AADSTS90002), unknown client → unauthorized_client (AADSTS700016),
// wrong or expired secret → invalid_client (AADSTS7000215, 7000222),
// missing parameter → invalid_request (AADSTS900144), scope without
// /.default → invalid_scope (AADSTS1002012), another resource →
// invalid_resource (AADSTS500011). Other errors are internal.
func (s *Service) TokenForClientSecret(ctx context.Context, tenantID, clientID, clientSecret, scope string) (*Token, error) {
	tenantID = strings.ToLower(tenantID)
	now := s.now()
	var rec *spRecord
	var oerr *OAuthError
	err := s.st.Read(ctx, func(tx store.Tx) error {
		rec, oerr = nil, nil
		if !isGUID(tenantID) {
			oerr = TenantNotFound("invalid_request", tenantID)
			return nil
		}
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); errors.Is(err, store.ErrNotFound) {
			oerr = TenantNotFound("invalid_request", tenantID)
			return nil
		} else if err != nil {
			return err
		}
		if clientID == "" {
			oerr = MissingParameter("client_id")
			return nil
		}
		var err error
		rec, err = getSP(ctx, tx, tenantID, clientID)
		if errors.Is(err, store.ErrNotFound) {
			oerr = oauthErr("unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. The application may not exist in this tenant, or the request was sent to the wrong tenant.", clientID, tenantID)
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if oerr != nil {
		return nil, oerr
	}
	if clientSecret == "" {
		return nil, oauthErr("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	cred := matchSecret(rec.Secrets, clientSecret)
	if cred == nil {
		return nil, oauthErr("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", rec.AppID)
	}
	if !cred.End.IsZero() && !now.Before(cred.End) {
		return nil, oauthErr("invalid_client", 7000222, "The provided client secret keys for app '%s' are expired. Create a new client secret for the app.", rec.AppID)
	}
	if now.Before(cred.Start) {
		return nil, oauthErr("invalid_client", 7000215, "Invalid client secret provided: the secret for app '%s' is not valid yet.", rec.AppID)
	}
	aud, oerr := resourceOf(scope, tenantID)
	if oerr != nil {
		return nil, oerr
	}
	return s.issue(ctx, rec, aud, now)
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
	for _, a := range Audiences {
		if strings.EqualFold(res, a) {
			return a, nil
		}
	}
	return "", oauthErr("invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s. This server issues tokens only for Azure Resource Manager (https://management.azure.com/).", res, tenantID)
}

func (s *Service) issue(ctx context.Context, sp *spRecord, aud string, now time.Time) (*Token, error) {
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
	uti, err := randomID(s.cfg.Rand, 16)
	if err != nil {
		return nil, err
	}
	exp := now.Add(s.cfg.TokenLifetime)
	iss := s.cfg.Issuer(sp.TenantID)
	c := accessClaims{
		Aud: aud, Iss: iss, Iat: now.Unix(), Nbf: now.Unix(), Exp: exp.Unix(),
		AppDisplayName: sp.DisplayName,
		AppID:          sp.AppID, AppIDACR: "1", Azp: sp.AppID, AzpACR: "1",
		IDP: iss, IDTyp: "app", OID: sp.ObjectID, Roles: sp.Roles, Sub: sp.ObjectID,
		TID: sp.TenantID, UTI: uti, Ver: "1.0",
	}
	jwt, err := sign(ks.active, c)
	if err != nil {
		return nil, err
	}
	return &Token{AccessToken: jwt, TokenType: "Bearer", ExpiresIn: int64(s.cfg.TokenLifetime / time.Second),
		ExpiresOn: time.Unix(exp.Unix(), 0).UTC(), Audience: aud, KeyID: ks.active.kid}, nil
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
