package authn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// maxTokenLen bounds the tokens Verify looks at (Entra access tokens are
// 1–3 KB; group-heavy user tokens stay under 8 KB).
const maxTokenLen = 16 << 10

// Principal is the authenticated caller of a verified token.
type Principal struct {
	TenantID string
	// ObjectID is the oid claim: the principal id RBAC assignments name.
	ObjectID string
	// AppID is the client application id (appid, or azp for v2 tokens).
	AppID string
	// Type is the ARM principalType: "ServicePrincipal" for app-only
	// tokens (idtyp "app"), "User" otherwise.
	Type string
	// CredentialID is the keyId of the credential the token was issued
	// for (CredentialClaim).
	CredentialID string
	DisplayName  string
	Roles        []string
	Audience     string
	Issuer       string
	ExpiresAt    time.Time
	// Claims are all claims of the token, as decoded from JSON (numbers
	// are float64).
	Claims map[string]any
	// ManagedIdentity is the resource id of a managed identity's token
	// (its xms_mirid claim; "" for others).
	ManagedIdentity string
	// ManagedIdentityHost is the resource a user-assigned identity's
	// token was asked from (its xms_az_rid claim; "" for others).
	ManagedIdentityHost string
}

// BearerToken extracts the token from an Authorization header value.
// An empty header gives ErrNoToken, a header that is not
// "Bearer <token>" ErrMalformedHeader (both ARM's AuthenticationFailed).
func BearerToken(authorization string) (string, error) {
	h := strings.TrimSpace(authorization)
	if h == "" {
		return "", tokenErr(ErrNoToken, "Authentication failed. The 'Authorization' header is missing.")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 {
		return "", tokenErr(ErrMalformedHeader, "Authentication failed. The 'Authorization' header is provided in an invalid format.")
	}
	return tok, nil
}

// tokenHeader is the part of the JOSE header Verify inspects before it
// trusts anything.
type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Verify checks an access token (the part after "Bearer ") and returns
// its principal. It accepts only RS256 tokens signed by a published key
// of this service, within their validity (± Leeway), for an ARM audience,
// issued by Issuer(tid) for a tenant that exists, living at most
// MaxTokenLifetime, whose principal exists and is enabled and still has
// the credential the token was issued for (principals.go). Refusals are
// *TokenError values whose Kind tells why; other errors (the store
// failing) are internal errors.
func (s *Service) Verify(ctx context.Context, token string) (*Principal, error) {
	return s.VerifyFor(ctx, token, Audiences)
}

// VerifyFor is Verify for a token of one of the audiences (a resource's:
// Audiences for ARM, GraphAudiences for the directory's Graph API): a
// token for another resource is refused (ErrWrongAudience).
func (s *Service) VerifyFor(ctx context.Context, token string, audiences []string) (*Principal, error) {
	if token == "" {
		return nil, tokenErr(ErrNoToken, "Authentication failed. The 'Authorization' header is missing.")
	}
	if len(token) > maxTokenLen || strings.Count(token, ".") != 2 {
		return nil, tokenErr(ErrMalformedToken, "The access token is invalid.")
	}
	var hdr tokenHeader
	if err := decodeSegment(token[:strings.IndexByte(token, '.')], &hdr); err != nil {
		return nil, tokenErr(ErrMalformedToken, "The access token is invalid.")
	}
	if hdr.Alg != Algorithm {
		return nil, tokenErr(ErrUnsupportedAlgorithm, "The access token is invalid: the signature algorithm %q is not supported; tokens must be signed with %s.", clip(hdr.Alg), Algorithm)
	}
	key, err := s.lookupKey(ctx, hdr.Kid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if key == nil || !s.published(key, now) {
		return nil, tokenErr(ErrUnknownKey, "The access token is invalid: it is signed with an unknown key %q.", clip(hdr.Kid))
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, tokenErr(ErrMalformedToken, "The access token is invalid.")
	}
	payload, err := jws.Verify(&key.priv.PublicKey)
	if err != nil {
		return nil, tokenErr(ErrBadSignature, "The access token is invalid: the signature verification failed.")
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, tokenErr(ErrMalformedToken, "The access token is invalid.")
	}

	exp, ok := numericDate(claims["exp"])
	if !ok {
		return nil, tokenErr(ErrMalformedToken, "The access token is invalid: the 'exp' claim is missing or not a number.")
	}
	if !now.Before(exp.Add(s.cfg.Leeway)) {
		return nil, tokenErr(ErrTokenExpired, "The access token expiry UTC time '%s' is earlier than current UTC time '%s'.", armTime(exp), armTime(now))
	}
	if v, present := claims["nbf"]; present {
		nbf, ok := numericDate(v)
		if !ok {
			return nil, tokenErr(ErrMalformedToken, "The access token is invalid: the 'nbf' claim is not a number.")
		}
		if now.Add(s.cfg.Leeway).Before(nbf) {
			return nil, tokenErr(ErrTokenNotYetValid, "The access token is not valid before UTC time '%s'; current UTC time is '%s'.", armTime(nbf), armTime(now))
		}
	}
	if v, present := claims["iat"]; present {
		iat, ok := numericDate(v)
		if !ok {
			return nil, tokenErr(ErrMalformedToken, "The access token is invalid: the 'iat' claim is not a number.")
		}
		if now.Add(s.cfg.Leeway).Before(iat) {
			return nil, tokenErr(ErrTokenNotYetValid, "The access token is issued in the future: UTC time '%s'; current UTC time is '%s'.", armTime(iat), armTime(now))
		}
		if exp.Sub(iat) > MaxTokenLifetime {
			return nil, tokenErr(ErrTokenLifetime, "The access token is invalid: it lives from '%s' to '%s', longer than %d hours.", armTime(iat), armTime(exp), int(MaxTokenLifetime/time.Hour))
		}
	}
	if exp.Sub(now) > MaxTokenLifetime+s.cfg.Leeway {
		return nil, tokenErr(ErrTokenLifetime, "The access token is invalid: its expiry UTC time '%s' is more than %d hours after current UTC time '%s'.", armTime(exp), int(MaxTokenLifetime/time.Hour), armTime(now))
	}

	aud, ok := singleAudience(claims["aud"])
	if !ok || !slices.Contains(audiences, aud) {
		return nil, tokenErr(ErrWrongAudience, "The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences '%s'.", clip(aud), strings.Join(audiences, "','"))
	}

	tid, _ := claims["tid"].(string)
	iss, _ := claims["iss"].(string)
	if !uuid.Valid(tid) || iss != s.cfg.Issuer(strings.ToLower(tid)) {
		return nil, tokenErr(ErrWrongIssuer, "The access token is from the wrong issuer '%s'. It must be issued by this server for the tenant in its 'tid' claim.", clip(iss))
	}
	tid = strings.ToLower(tid)
	if err := s.knownTenant(ctx, tid); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, tokenErr(ErrUnknownTenant, "The access token is from the wrong issuer '%s': tenant '%s' does not exist.", clip(iss), tid)
		}
		return nil, err
	}

	oid, _ := claims["oid"].(string)
	if oid == "" {
		return nil, tokenErr(ErrMalformedToken, "The received access token is not valid: at least one of the claims 'puid' or 'altsecid' or 'oid' should be present.")
	}
	p := &Principal{TenantID: tid, ObjectID: oid, Type: "User", Audience: aud, Issuer: iss, ExpiresAt: exp, Claims: claims}
	if p.AppID, _ = claims["appid"].(string); p.AppID == "" {
		p.AppID, _ = claims["azp"].(string)
	}
	if idtyp, _ := claims["idtyp"].(string); idtyp == "app" {
		p.Type = "ServicePrincipal"
	}
	if p.DisplayName, _ = claims["name"].(string); p.DisplayName == "" {
		p.DisplayName, _ = claims["app_displayname"].(string)
	}
	if roles, ok := claims["roles"].([]any); ok {
		for _, r := range roles {
			if r, ok := r.(string); ok {
				p.Roles = append(p.Roles, r)
			}
		}
	}
	p.CredentialID, _ = claims[CredentialClaim].(string)
	p.ManagedIdentity, _ = claims["xms_mirid"].(string)
	p.ManagedIdentityHost, _ = claims["xms_az_rid"].(string)
	if err := s.checkPrincipal(ctx, p, now); err != nil {
		return nil, err
	}
	return p, nil
}

// ClaimsJSON returns the claims of p's token as a JSON object (keys
// sorted), for records that keep them (the activity log).
func ClaimsJSON(p *Principal) json.RawMessage {
	if p == nil || len(p.Claims) == 0 {
		return nil
	}
	b, err := json.Marshal(p.Claims)
	if err != nil { // claims decoded from JSON always encode
		return nil
	}
	return b
}

// CheckTenant refuses a principal whose token was issued by another
// tenant than tenantID (the tenant of the subscription being accessed),
// with ARM's InvalidAuthenticationTokenTenant.
func (s *Service) CheckTenant(p *Principal, tenantID string) error {
	if strings.EqualFold(p.TenantID, tenantID) {
		return nil
	}
	want := strings.ToLower(tenantID)
	return tokenErr(ErrWrongTenant, "The access token is from the wrong issuer '%s'. It must match the tenant '%s' associated with this subscription. Please use the authority (URL) '%s' to get the token.",
		p.Issuer, s.cfg.Issuer(want), s.Authority(want))
}

// knownTenant reports store.ErrNotFound for a tenant that does not exist.
// Tenants found once are remembered (tenants are not deleted).
func (s *Service) knownTenant(ctx context.Context, tid string) error {
	if _, ok := s.tenants.Load(tid); ok {
		return nil
	}
	err := s.st.Read(ctx, func(tx store.Tx) error {
		_, err := tx.GetObject(ctx, KindTenant, tid)
		return err
	})
	if err == nil {
		s.tenants.Store(tid, struct{}{})
	}
	return err
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// numericDate converts a JSON number of seconds since the epoch.
func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// singleAudience returns the aud claim if it names exactly one audience
// (a string, or an array of one string).
func singleAudience(v any) (string, bool) {
	switch a := v.(type) {
	case string:
		return a, true
	case []any:
		if len(a) == 1 {
			s, ok := a[0].(string)
			return s, ok
		}
	}
	return "", false
}

// armTime formats a time as ARM's messages do ('3/19/2021 6:07:52 AM').
func armTime(t time.Time) string { return t.UTC().Format("1/2/2006 3:04:05 PM") }

// clip shortens attacker-supplied values quoted in messages.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
