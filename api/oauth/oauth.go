package oauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Service is what the handler needs from *authn.Service.
type Service interface {
	Tenant(ctx context.Context, id string) (*authn.Tenant, error)
	Issuer(tenantID string) string
	ClientCredentials(ctx context.Context, r authn.TokenRequest) (*authn.Token, error)
	PasswordGrant(ctx context.Context, r authn.PasswordRequest) (*authn.Token, error)
	JWKS(ctx context.Context) ([]byte, error)
}

var _ Service = (*authn.Service)(nil)

// Config configures a Handler.
type Config struct {
	// BaseURL is the public scheme://host[:port] of the server, the
	// authorityHost clients are given (https://127.0.0.1:8443). Endpoint
	// URLs in the discovery document are built from it; it must have the
	// same origin as the service's issuer (MSAL checks).
	BaseURL string
	// Now returns the current time (default time.Now); used for the
	// timestamp of error bodies.
	Now func() time.Time
	// Rand is the source of trace and correlation ids (default
	// crypto/rand.Reader).
	Rand io.Reader
	// Logger receives internal errors (default: discarded).
	Logger *slog.Logger
}

// Paths of the endpoints, as http.ServeMux patterns.
const (
	PatternDiscovery = "GET /{tenant}/v2.0/.well-known/openid-configuration"
	PatternKeys      = "GET /{tenant}/discovery/v2.0/keys"
	PatternToken     = "POST /{tenant}/oauth2/v2.0/token"
)

// deviceCodeGrant is RFC 8628's grant type. msalDeviceCodeGrant is the
// short name MSAL sends when it polls for a device code
// (@azure/msal-common's GrantType.DEVICE_CODE_GRANT, used by
// @azure/msal-node's DeviceCodeClient and so by @azure/identity's
// DeviceCodeCredential); Entra takes both, and so does mlgov.
const (
	deviceCodeGrant     = "urn:ietf:params:oauth:grant-type:device_code"
	msalDeviceCodeGrant = "device_code"
)

// maxFormBytes bounds a token request body.
const maxFormBytes = 64 << 10

// Handler serves the OpenID discovery document, the JWKS and the token
// endpoint for every tenant the service knows.
type Handler struct {
	svc  Service
	ia   Interactive // nil: the service has no interactive sign-in
	cfg  Config
	mux  *http.ServeMux
	base string
}

// New returns a Handler. It panics if cfg.BaseURL is not an absolute
// https URL (a wiring error).
func New(svc Service, cfg Config) *Handler {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		panic(fmt.Sprintf("oauth: Config.BaseURL %q must be https://host[:port]", cfg.BaseURL))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/")}
	h.ia, _ = svc.(Interactive)
	h.mux = http.NewServeMux()
	h.Register(h.mux)
	return h
}

// Register adds the three endpoints to mux (for a server that routes
// everything else to the ARM dispatcher with a "/{path...}" catch-all).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc(PatternDiscovery, h.discovery)
	mux.HandleFunc(PatternKeys, h.keys)
	mux.HandleFunc(PatternToken, h.token)
	if h.ia != nil {
		h.registerInteractive(mux)
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// discoveryDoc is the OpenID Provider metadata. MSAL needs issuer,
// authorization_endpoint, token_endpoint and jwks_uri (see doc.go).
type discoveryDoc struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint,omitempty"`
	EndSessionEndpoint                string   `json:"end_session_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	ResponseModesSupported            []string `json:"response_modes_supported,omitempty"`
}

func (h *Handler) discovery(w http.ResponseWriter, r *http.Request) {
	t, ok := h.tenant(w, r, "invalid_tenant")
	if !ok {
		return
	}
	root := h.base + "/" + t.ID
	doc := discoveryDoc{
		Issuer: h.svc.Issuer(t.ID),
		// MSAL requires the field and reads the tenant id from its first
		// path segment.
		AuthorizationEndpoint:             root + "/oauth2/v2.0/authorize",
		TokenEndpoint:                     root + "/oauth2/v2.0/token",
		JWKSURI:                           root + "/discovery/v2.0/keys",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic", "private_key_jwt"},
		GrantTypesSupported:               []string{"client_credentials", "password"},
		ResponseTypesSupported:            []string{},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{authn.Algorithm},
		ScopesSupported:                   []string{"https://management.azure.com/.default", "https://management.core.windows.net//.default"},
		ClaimsSupported: []string{"aud", "iss", "iat", "nbf", "exp", "app_displayname", "appid", "appidacr", "azp", "azpacr",
			"idp", "idtyp", "oid", authn.CredentialClaim, "roles", "sub", "tid", "uti", "ver"},
	}
	if h.ia != nil {
		doc.GrantTypesSupported = append(doc.GrantTypesSupported, "authorization_code", "refresh_token", deviceCodeGrant)
		doc.ResponseTypesSupported = []string{"code"}
		doc.ResponseModesSupported = []string{"query", "fragment"}
		doc.CodeChallengeMethodsSupported = []string{"S256"}
		doc.DeviceAuthorizationEndpoint = root + "/oauth2/v2.0/devicecode"
		doc.EndSessionEndpoint = root + "/oauth2/v2.0/logout"
		doc.RevocationEndpoint = root + "/oauth2/v2.0/revoke"
		doc.ScopesSupported = append(doc.ScopesSupported, "openid", "profile", "offline_access")
		doc.ClaimsSupported = append(doc.ClaimsSupported, "amr", "auth_time", "name", "nonce", "preferred_username", "scp", "sid", "upn")
	}
	w.Header().Set("Cache-Control", "max-age=86400, private")
	writeJSON(w, http.StatusOK, doc)
}

func (h *Handler) keys(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.tenant(w, r, "invalid_tenant"); !ok {
		return
	}
	b, err := h.svc.JWKS(r.Context())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	// Short: a rotated-in key must reach verifiers quickly.
	w.Header().Set("Cache-Control", "max-age=300, private")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// tokenResponse is Entra's v2 client-credentials response.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	t, form, ok := h.tenantForm(w, r)
	if !ok {
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "password":
		// A user's password (the resource owner password grant, as
		// az login --username sends it).
		tok, err := h.svc.PasswordGrant(r.Context(), authn.PasswordRequest{TenantID: t.ID, ClientID: form.Get("client_id"), Username: form.Get("username"),
			Password: form.Get("password"), Scope: form.Get("scope"), ClientAddress: clientAddress(r), CorrelationID: correlationID(r)})
		if h.grantError(w, r, err, false) {
			return
		}
		writeJSON(w, http.StatusOK, tokenResponse{TokenType: tok.TokenType, ExpiresIn: tok.ExpiresIn, ExtExpiresIn: tok.ExpiresIn, AccessToken: tok.AccessToken})
		return
	case "authorization_code", "refresh_token", deviceCodeGrant, msalDeviceCodeGrant:
		if h.ia == nil {
			h.oauthError(w, r, authn.UnsupportedGrantType(gt), false)
			return
		}
		h.userGrant(w, r, t, gt, form)
		return
	case "":
		h.oauthError(w, r, authn.MissingParameter("grant_type"), false)
		return
	default:
		h.oauthError(w, r, authn.UnsupportedGrantType(gt), false)
		return
	}
	clientID, secret, assertion, basic, oerr := clientCredentials(r, form)
	if oerr != nil {
		h.oauthError(w, r, oerr, basic)
		return
	}
	tok, err := h.svc.ClientCredentials(r.Context(), authn.TokenRequest{TenantID: t.ID, ClientID: clientID, ClientSecret: secret, ClientAssertion: assertion, Scope: form.Get("scope"),
		ClientAddress: clientAddress(r), CorrelationID: correlationID(r)})
	if h.grantError(w, r, err, basic) {
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{TokenType: tok.TokenType, ExpiresIn: tok.ExpiresIn, ExtExpiresIn: tok.ExpiresIn, AccessToken: tok.AccessToken})
}

// tenantForm resolves the tenant of a form-posting endpoint and reads
// its form; false when it answered an error.
func (h *Handler) tenantForm(w http.ResponseWriter, r *http.Request) (*authn.Tenant, url.Values, bool) {
	t, ok := h.tenant(w, r, "invalid_request")
	if !ok {
		return nil, nil, false
	}
	form, oerr := readForm(w, r)
	if oerr != nil {
		h.oauthError(w, r, oerr, false)
		return nil, nil, false
	}
	return t, form, true
}

// grantError answers err (an OAuth error, or an internal one); false
// when err is nil. basic: the client authenticated with Basic.
func (h *Handler) grantError(w http.ResponseWriter, r *http.Request, err error, basic bool) bool {
	if err == nil {
		return false
	}
	var oe *authn.OAuthError
	if errors.As(err, &oe) {
		h.oauthError(w, r, oe, basic)
	} else {
		h.internal(w, r, err)
	}
	return true
}

// readForm reads an application/x-www-form-urlencoded body. Other bodies
// read as empty forms (Entra then reports the first missing parameter).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *authn.OAuthError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return url.Values{}, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, &authn.OAuthError{Code: "invalid_request", AADSTS: 900144, Description: "The request body could not be read as a form: " + err.Error()}
	}
	return r.PostForm, nil
}

// clientCredentials returns the client id and secret from the body
// (client_secret_post) or the Authorization header (client_secret_basic,
// RFC 6749 §2.3.1: both parts form-encoded); basic reports which.
func clientCredentials(r *http.Request, form url.Values) (id, secret, assertion string, basic bool, oerr *authn.OAuthError) {
	if form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "" {
		switch {
		case form.Get("client_assertion_type") != authn.ClientAssertionType:
			return "", "", "", false, &authn.OAuthError{Code: "invalid_request", AADSTS: 50027, Description: "client_assertion_type must be " + authn.ClientAssertionType + "."}
		case form.Get("client_assertion") == "":
			return "", "", "", false, authn.MissingParameter("client_assertion")
		case form.Get("client_secret") != "" || r.Header.Get("Authorization") != "":
			return "", "", "", false, &authn.OAuthError{Code: "invalid_request", AADSTS: 900144, Description: "The request has both a client assertion and a client secret; use one client authentication method."}
		}
		return form.Get("client_id"), "", form.Get("client_assertion"), false, nil
	}
	id, secret = form.Get("client_id"), form.Get("client_secret")
	if r.Header.Get("Authorization") == "" {
		return id, secret, "", false, nil
	}
	bid, bsecret, ok := r.BasicAuth()
	if !ok {
		return "", "", "", false, &authn.OAuthError{Code: "invalid_request", AADSTS: 900144, Description: "The Authorization header of a token request must use the Basic scheme (client_secret_basic)."}
	}
	var err1, err2 error
	bid, err1 = url.QueryUnescape(bid)
	bsecret, err2 = url.QueryUnescape(bsecret)
	switch {
	case err1 != nil || err2 != nil:
		return "", "", "", true, &authn.OAuthError{Code: "invalid_client", AADSTS: 7000215, Description: "Invalid client secret provided: the Basic credentials are not form-encoded."}
	case secret != "":
		return "", "", "", true, &authn.OAuthError{Code: "invalid_request", AADSTS: 900144, Description: "The client secret was sent both in the Authorization header and in the body; use one client authentication method."}
	case id != "" && id != bid:
		return "", "", "", true, &authn.OAuthError{Code: "invalid_request", AADSTS: 900144, Description: "The client_id in the body does not match the client id of the Authorization header."}
	}
	return bid, bsecret, "", true, nil
}

// tenant resolves the {tenant} path segment; unknown tenants get
// AADSTS90002 with the given error code (invalid_tenant for discovery,
// invalid_request for the token endpoint, as Entra answers).
func (h *Handler) tenant(w http.ResponseWriter, r *http.Request, code string) (*authn.Tenant, bool) {
	id := r.PathValue("tenant")
	t, err := h.svc.Tenant(r.Context(), id)
	switch {
	case err == nil:
		return t, true
	case errors.Is(err, store.ErrNotFound):
		h.oauthError(w, r, authn.TenantNotFound(code, id), false)
	default:
		h.internal(w, r, err)
	}
	return nil, false
}

// errorBody is Entra's OAuth error response (RFC 6749 §5.2 plus
// error_codes, timestamp, trace_id and correlation_id).
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// clientAddress is the client's IP address: the TCP peer, or behind a
// proxy the server trusts (serve --trusted-proxy) the client its
// X-Forwarded-For names (api.ClientIP), so that failed sign-ins are
// throttled per client, not per proxy.
func clientAddress(r *http.Request) string { return api.ClientIP(r) }

// status is the HTTP status of an OAuth error: 429 for a throttled or
// locked-out client (RetryAfter set), 401 for invalid_client (as Entra
// answers), 400 otherwise (RFC 6749 §5.2).
func status(e *authn.OAuthError) int {
	switch {
	case e.RetryAfter > 0:
		return http.StatusTooManyRequests
	case e.Code == "invalid_client":
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

func (h *Handler) oauthError(w http.ResponseWriter, r *http.Request, e *authn.OAuthError, basic bool) {
	st := status(e)
	if st == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+h.base+`"`)
	}
	if st == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	h.writeError(w, r, st, e.Code, e.AADSTS, e.Description)
}

// internal answers 500 without internals and logs err with the ids the
// client sees.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	traceID, corrID := h.writeError(w, r, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token or an authorization code. Please try again.")
	h.cfg.Logger.ErrorContext(r.Context(), "oauth: internal error", "err", err, "path", r.URL.Path, "trace_id", traceID, "correlation_id", corrID)
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, st int, code string, aadsts int, desc string) (traceID, corrID string) {
	traceID = h.guid()
	corrID = correlationID(r)
	if corrID == "" {
		corrID = h.guid()
	}
	ts := h.cfg.Now().UTC().Format("2006-01-02 15:04:05Z")
	body := errorBody{
		Error:            code,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, desc, traceID, corrID, ts),
		ErrorCodes:       []int{aadsts},
		Timestamp:        ts,
		TraceID:          traceID,
		CorrelationID:    corrID,
	}
	w.Header().Set("x-ms-request-id", traceID)
	writeJSON(w, st, body)
	return traceID, corrID
}

// correlationID returns the client's client-request-id (header, or the
// form parameter MSAL also sends, if the form was read) if it is a GUID.
func correlationID(r *http.Request) string {
	for _, v := range []string{r.Header.Get("client-request-id"), r.PostForm.Get("client-request-id")} {
		if uuid.Valid(v) {
			return strings.ToLower(v)
		}
	}
	return ""
}

func (h *Handler) guid() string {
	g, err := uuid.NewFrom(h.cfg.Rand)
	if err != nil {
		return "00000000-0000-0000-0000-000000000000"
	}
	return g
}

func writeJSON(w http.ResponseWriter, st int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(st)
	w.Write(b)
}
