// Package federation trusts an external OpenID Connect issuer (a
// company's Entra ID, Keycloak, Dex) configured at start: its access
// tokens are verified against its published keys (discovery, then the
// JWKS, fetched again when a token names a key not seen yet), and their
// claims are mapped to an mlgov principal (an object id claim) and its
// groups (a groups claim), which role assignments name.
//
// Principal and group ids are GUIDs in Azure RBAC. A claim value that is
// a GUID (Entra's oid and group ids, Keycloak's sub) is used as it is;
// any other value (a Keycloak group path, a Dex subject) maps to a GUID
// derived from the issuer and the value (MappedID), the same every time.
package federation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mlgov/mlgov/internal/uuid"
)

// Config configures the trust of one issuer.
type Config struct {
	// Issuer is the issuer URL, exactly as its tokens' iss claim and its
	// discovery document say it.
	Issuer string
	// Audience is what the tokens' aud must hold (the application id or
	// URI mlgov is registered as at the issuer).
	Audience string
	// ObjectIDClaim names the principal's id claim (default oid, then sub).
	ObjectIDClaim string
	// GroupsClaim names the groups claim (default groups).
	GroupsClaim string
	// HTTP fetches the discovery document and the keys (nil: a client
	// with a 10 s timeout).
	HTTP *http.Client
	Now  func() time.Time
}

// Identity is a verified external caller.
type Identity struct {
	// ObjectID is the principal's id (a GUID, MappedID when the claim
	// is not one); Groups likewise.
	ObjectID string
	Groups   []string
	// Name is the caller's name for the activity log (upn,
	// preferred_username, email or the object id).
	Name     string
	TenantID string
	Claims   map[string]any
}

// Issuer verifies the tokens of one external issuer.
type Issuer struct {
	cfg Config

	mu      sync.Mutex
	jwksURI string
	keys    jose.JSONWebKeySet
	fetched time.Time
}

// leeway is the clock skew allowed on exp and nbf.
const leeway = 5 * time.Minute

// maxLifetime bounds a token's life, as for mlgov's own tokens.
const maxLifetime = 24 * time.Hour

// minRefetch is how often an unknown key id may make the keys be fetched
// again.
const minRefetch = 30 * time.Second

// New returns an Issuer. Nothing is fetched until a token is verified.
func New(cfg Config) (*Issuer, error) {
	if !strings.HasPrefix(cfg.Issuer, "https://") {
		return nil, fmt.Errorf("federation: the issuer %q is not an https URL", cfg.Issuer)
	}
	if cfg.Audience == "" {
		return nil, errors.New("federation: an audience is required: the tokens' aud that names mlgov")
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Issuer{cfg: cfg}, nil
}

// Issuer returns the issuer URL.
func (i *Issuer) Issuer() string { return i.cfg.Issuer }

// Peek returns a token's iss claim, unverified: which issuer to verify
// it with ("" when it is not a JWT).
func Peek(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return ""
	}
	b, err := decodeSegment(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Iss
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// ErrInvalid is the error of every refused token (its message says why).
var ErrInvalid = errors.New("the external token is invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Verify checks a token of the issuer and maps its caller.
func (i *Issuer) Verify(ctx context.Context, token string) (*Identity, error) {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.PS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, invalid("not a signed JWT with an RS or ES algorithm")
	}
	kid := jws.Signatures[0].Header.KeyID
	key, err := i.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, invalid("the signature does not verify with the issuer's key %q", kid)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, invalid("the claims are not a JSON object")
	}
	now := i.cfg.Now()
	if iss, _ := claims["iss"].(string); iss != i.cfg.Issuer {
		return nil, invalid("issued by %q, not %q", clip(iss), i.cfg.Issuer)
	}
	if !audienceHolds(claims["aud"], i.cfg.Audience) {
		return nil, invalid("its audience is not %q", i.cfg.Audience)
	}
	exp, ok := claims["exp"].(float64)
	if !ok || !now.Before(time.Unix(int64(exp), 0).Add(leeway)) {
		return nil, invalid("expired, or without exp")
	}
	if nbf, ok := claims["nbf"].(float64); ok && now.Add(leeway).Before(time.Unix(int64(nbf), 0)) {
		return nil, invalid("not valid yet")
	}
	if time.Until(time.Unix(int64(exp), 0)) > maxLifetime+leeway {
		return nil, invalid("it expires more than %s from now", maxLifetime)
	}
	id := &Identity{Claims: claims}
	oidClaims := []string{i.cfg.ObjectIDClaim}
	if i.cfg.ObjectIDClaim == "" {
		oidClaims = []string{"oid", "sub"}
	}
	for _, c := range oidClaims {
		if v, _ := claims[c].(string); v != "" {
			id.ObjectID = i.MappedID(v)
			break
		}
	}
	if id.ObjectID == "" {
		return nil, invalid("it has no %s claim naming its principal", strings.Join(oidClaims, " or "))
	}
	switch g := claims[i.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok && s != "" {
				id.Groups = append(id.Groups, i.MappedID(s))
			}
		}
	case nil:
	default:
		return nil, invalid("its %s claim is not a list", i.cfg.GroupsClaim)
	}
	for _, c := range []string{"upn", "preferred_username", "email", "unique_name"} {
		if v, _ := claims[c].(string); v != "" {
			id.Name = v
			break
		}
	}
	if id.Name == "" {
		id.Name = id.ObjectID
	}
	id.TenantID, _ = claims["tid"].(string)
	return id, nil
}

// MappedID is the mlgov principal id of a claim value: the value itself
// when it is a GUID (lower-cased), else a GUID derived from the issuer
// and the value.
func (i *Issuer) MappedID(v string) string {
	if uuid.Valid(v) {
		return strings.ToLower(v)
	}
	h := sha256.Sum256([]byte(i.cfg.Issuer + "\n" + v))
	h[6] = h[6]&0x0f | 0x50 // version 5 (name-based, SHA)
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func audienceHolds(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.ContainsFunc(a, func(v any) bool { s, _ := v.(string); return s == want })
	}
	return false
}

// key returns the issuer's key of kid, fetching the keys (again) when
// it is not known (at most every minRefetch).
func (i *Issuer) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if k := i.keys.Key(kid); len(k) > 0 {
		return &k[0], nil
	}
	if !i.fetched.IsZero() && i.cfg.Now().Sub(i.fetched) < minRefetch {
		return nil, invalid("signed with the key %q, which the issuer does not publish", clip(kid))
	}
	if err := i.fetch(ctx); err != nil {
		return nil, err
	}
	if k := i.keys.Key(kid); len(k) > 0 {
		return &k[0], nil
	}
	return nil, invalid("signed with the key %q, which the issuer does not publish", clip(kid))
}

// fetch reads the discovery document (once) and the keys.
func (i *Issuer) fetch(ctx context.Context) error {
	i.fetched = i.cfg.Now()
	if i.jwksURI == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := i.getJSON(ctx, strings.TrimRight(i.cfg.Issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return err
		}
		if doc.Issuer != i.cfg.Issuer || !strings.HasPrefix(doc.JWKSURI, "https://") {
			return fmt.Errorf("federation: the discovery document of %s names the issuer %q and the keys %q", i.cfg.Issuer, doc.Issuer, doc.JWKSURI)
		}
		i.jwksURI = doc.JWKSURI
	}
	var keys jose.JSONWebKeySet
	if err := i.getJSON(ctx, i.jwksURI, &keys); err != nil {
		return err
	}
	i.keys = keys
	return nil
}

// Endpoints are the endpoints of the issuer's sign-in (its discovery
// document): what a browser client of the issuer, such as the web
// dashboard, signs users in with.
type Endpoints struct {
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
	EndSession    string `json:"end_session_endpoint,omitempty"`
}

// SignInEndpoints reads the issuer's discovery document for the
// endpoints of its sign-in; both the authorization and the token
// endpoint must be https URLs.
func (i *Issuer) SignInEndpoints(ctx context.Context) (*Endpoints, error) {
	var doc struct {
		Issuer string `json:"issuer"`
		Endpoints
	}
	if err := i.getJSON(ctx, strings.TrimRight(i.cfg.Issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
		return nil, err
	}
	switch {
	case doc.Issuer != i.cfg.Issuer:
		return nil, fmt.Errorf("federation: the discovery document of %s names the issuer %q", i.cfg.Issuer, doc.Issuer)
	case !strings.HasPrefix(doc.Authorization, "https://") || !strings.HasPrefix(doc.Token, "https://"):
		return nil, fmt.Errorf("federation: the discovery document of %s has no https authorization_endpoint and token_endpoint (%q, %q)", i.cfg.Issuer, doc.Authorization, doc.Token)
	case doc.EndSession != "" && !strings.HasPrefix(doc.EndSession, "https://"):
		doc.EndSession = ""
	}
	return &doc.Endpoints, nil
}

func (i *Issuer) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := i.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("federation: %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("federation: %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("federation: %s: %w", url, err)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
