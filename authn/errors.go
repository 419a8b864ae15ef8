package authn

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// OAuthError is a token-request failure as Entra reports it: an RFC 6749
// §5.2 error code plus an AADSTS number and message. api/oauth turns it
// into the JSON error body and picks the HTTP status.
type OAuthError struct {
	// Code is the RFC 6749 error code (invalid_request, invalid_client,
	// unauthorized_client, invalid_scope, unsupported_grant_type) or an
	// Entra one (invalid_resource, invalid_tenant).
	Code string
	// AADSTS is Entra's error number (7000215 for a wrong secret).
	AADSTS int
	// Description is the message without the "AADSTSnnn: " prefix.
	Description string
	// RetryAfter, when positive, says the request was refused because
	// the client or its address is throttled or locked out, and for how
	// long: api/oauth answers 429 with a Retry-After header.
	RetryAfter time.Duration
}

func (e *OAuthError) Error() string {
	return fmt.Sprintf("%s: AADSTS%d: %s", e.Code, e.AADSTS, e.Description)
}

// Is matches the sentinels below by Code (and by AADSTS when the target
// sets it), so errors.Is(err, ErrInvalidClient) works.
func (e *OAuthError) Is(target error) bool {
	t, ok := target.(*OAuthError)
	return ok && t.Code == e.Code && (t.AADSTS == 0 || t.AADSTS == e.AADSTS)
}

// Sentinels for errors.Is on token-request failures.
var (
	ErrInvalidRequest       = &OAuthError{Code: "invalid_request"}
	ErrInvalidClient        = &OAuthError{Code: "invalid_client"}
	ErrUnauthorizedClient   = &OAuthError{Code: "unauthorized_client"}
	ErrInvalidScope         = &OAuthError{Code: "invalid_scope"}
	ErrInvalidResource      = &OAuthError{Code: "invalid_resource"}
	ErrUnsupportedGrantType = &OAuthError{Code: "unsupported_grant_type"}
	ErrInvalidTenant        = &OAuthError{Code: "invalid_tenant"}
	// ErrThrottled: too many failed attempts of a client or an address
	// in the throttling window (RetryAfter set).
	ErrThrottled = &OAuthError{Code: "temporarily_unavailable", AADSTS: 50196}
	// ErrLockedOut: the client is locked out after repeated failures
	// (RetryAfter set); even its right secret is refused.
	ErrLockedOut = &OAuthError{Code: "invalid_client", AADSTS: 50053}
)

func oauthErr(code string, aadsts int, format string, args ...any) *OAuthError {
	return &OAuthError{Code: code, AADSTS: aadsts, Description: fmt.Sprintf(format, args...)}
}

// MissingParameter is Entra's AADSTS900144 for a missing form parameter.
func MissingParameter(name string) *OAuthError {
	return oauthErr("invalid_request", 900144, "The request body must contain the following parameter: '%s'.", name)
}

// UnsupportedGrantType is Entra's AADSTS70003.
func UnsupportedGrantType(grantType string) *OAuthError {
	return oauthErr("unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'. Supported grant types: client_credentials, password, authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code.", clip(grantType))
}

// TenantNotFound is Entra's AADSTS90002. The token endpoint reports it as
// invalid_request and the discovery endpoints as invalid_tenant.
func TenantNotFound(code, tenant string) *OAuthError {
	return oauthErr(code, 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant)
}

// Sentinels for errors.Is on token-verification failures; each is the
// Kind of a *TokenError and has its own ARM error code (see TokenError).
var (
	ErrNoToken              = errors.New("no access token")                 // AuthenticationFailed
	ErrMalformedHeader      = errors.New("malformed Authorization header")  // AuthenticationFailed
	ErrMalformedToken       = errors.New("malformed access token")          // InvalidAuthenticationToken
	ErrUnsupportedAlgorithm = errors.New("unsupported signature algorithm") // InvalidAuthenticationToken
	ErrUnknownKey           = errors.New("unknown signing key")             // InvalidAuthenticationToken
	ErrBadSignature         = errors.New("invalid signature")               // InvalidAuthenticationToken
	ErrTokenNotYetValid     = errors.New("token not yet valid")             // InvalidAuthenticationToken
	ErrTokenExpired         = errors.New("token expired")                   // ExpiredAuthenticationToken
	ErrWrongAudience        = errors.New("wrong audience")                  // InvalidAuthenticationTokenAudience
	ErrWrongIssuer          = errors.New("wrong issuer")                    // InvalidAuthenticationTokenTenant
	ErrUnknownTenant        = errors.New("unknown tenant")                  // InvalidAuthenticationTokenTenant
	ErrWrongTenant          = errors.New("wrong tenant")                    // InvalidAuthenticationTokenTenant
	ErrTokenLifetime        = errors.New("token lifetime too long")         // InvalidAuthenticationToken
	ErrUnknownPrincipal     = errors.New("unknown principal")               // InvalidAuthenticationToken
	ErrPrincipalDisabled    = errors.New("principal disabled")              // InvalidAuthenticationToken
	ErrCredentialRevoked    = errors.New("credential revoked")              // InvalidAuthenticationToken
)

// ARM error codes of 401 responses (resource-model.md §3.4).
const (
	CodeAuthenticationFailed               = "AuthenticationFailed"
	CodeInvalidAuthenticationToken         = "InvalidAuthenticationToken"
	CodeExpiredAuthenticationToken         = "ExpiredAuthenticationToken"
	CodeInvalidAuthenticationTokenAudience = "InvalidAuthenticationTokenAudience"
	CodeInvalidAuthenticationTokenTenant   = "InvalidAuthenticationTokenTenant"
)

// TokenError is why a bearer token was refused. The API answers 401 with
// {"error":{"code":Code,"message":Message}} and the header
// WWWAuthenticate(authorityURI, err). Errors that are not a *TokenError
// (a store failure) are internal errors, not 401s.
type TokenError struct {
	Kind    error  // one of the ErrNoToken ... ErrCredentialRevoked sentinels
	Code    string // the ARM error code
	Message string // the ARM error message
}

func (e *TokenError) Error() string { return "authn: " + e.Kind.Error() + ": " + e.Message }
func (e *TokenError) Unwrap() error { return e.Kind }

var kindCode = map[error]string{
	ErrNoToken:              CodeAuthenticationFailed,
	ErrMalformedHeader:      CodeAuthenticationFailed,
	ErrMalformedToken:       CodeInvalidAuthenticationToken,
	ErrUnsupportedAlgorithm: CodeInvalidAuthenticationToken,
	ErrUnknownKey:           CodeInvalidAuthenticationToken,
	ErrBadSignature:         CodeInvalidAuthenticationToken,
	ErrTokenNotYetValid:     CodeInvalidAuthenticationToken,
	ErrTokenExpired:         CodeExpiredAuthenticationToken,
	ErrWrongAudience:        CodeInvalidAuthenticationTokenAudience,
	ErrWrongIssuer:          CodeInvalidAuthenticationTokenTenant,
	ErrUnknownTenant:        CodeInvalidAuthenticationTokenTenant,
	ErrWrongTenant:          CodeInvalidAuthenticationTokenTenant,
	ErrTokenLifetime:        CodeInvalidAuthenticationToken,
	ErrUnknownPrincipal:     CodeInvalidAuthenticationToken,
	ErrPrincipalDisabled:    CodeInvalidAuthenticationToken,
	ErrCredentialRevoked:    CodeInvalidAuthenticationToken,
}

func tokenErr(kind error, format string, args ...any) *TokenError {
	return &TokenError{Kind: kind, Code: kindCode[kind], Message: fmt.Sprintf(format, args...)}
}

// missingHeaderDescription is ARM's error_description for a request
// without an Authorization header.
const missingHeaderDescription = "The authentication failed because of missing 'Authorization' header."

// WWWAuthenticate returns the WWW-Authenticate header value for a 401
// caused by err, modelled on ARM's:
//
//	Bearer authorization_uri="https://host/{tenant}", error="invalid_token", error_description="..."
//
// authorizationURI is the authority a client should get a token from,
// Service.Authority(tenant of the subscription addressed, or ""). err is
// normally a *TokenError; any other error gets a generic description.
func WWWAuthenticate(authorizationURI string, err error) string {
	desc := "The access token is invalid."
	var te *TokenError
	switch {
	case errors.Is(err, ErrNoToken):
		desc = missingHeaderDescription
	case errors.As(err, &te):
		desc = te.Message
	}
	return `Bearer authorization_uri="` + quote(authorizationURI) + `", error="invalid_token", error_description="` + quote(desc) + `"`
}

// quote escapes s for an RFC 9110 quoted-string, drops control
// characters (which could split the header) and replaces non-ASCII ones
// with '?' (messages can quote attacker-chosen claim values).
func quote(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		case r > 0x7f:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
