// Package api is the HTTP transport of the control plane: the ARM
// dispatcher (case-insensitive resource-ID routing), request limits,
// authentication, and the ARM error envelope. It is the only package that
// builds HTTP responses and maps error codes to statuses; unknown errors
// become InternalServerError without internals and are logged with the
// correlation id.
//
// It imports arm, resources, activitylog and the store interfaces; never
// a concrete store or driver.
package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/resources"
)

// MaxBody is the largest accepted request body (4 MiB).
const MaxBody = 4 << 20

// Bounds on what a request may carry besides its body.
const (
	// MaxHeaderBytes bounds the request line and headers together; a
	// larger request gets 431 with an ARM body. (http.Server's own
	// MaxHeaderBytes is set higher, as a backstop.)
	MaxHeaderBytes = 64 << 10
	// MaxClientRequestID is ARM's bound on x-ms-client-request-id.
	MaxClientRequestID = 512
	// maxCorrelationID: a longer x-ms-correlation-request-id is replaced
	// by a new one.
	maxCorrelationID = 128
)

// Authenticator verifies the Authorization header of an ARM request.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (*activitylog.Caller, error)
}

// AuthError is a refused request: a 401 with an ARM code and the
// WWW-Authenticate challenge.
type AuthError struct {
	Code            string
	Message         string
	WWWAuthenticate string
}

func (e *AuthError) Error() string { return e.Code + ": " + e.Message }

// Server serves the ARM API.
//
// Every URL it returns (Location, Azure-AsyncOperation, nextLink, the
// authorization_uri of a challenge) is built from PublicURL, never from
// the request's Host header, which a client chooses.
type Server struct {
	// PublicURL is https://host[:port], where clients reach the server.
	PublicURL string
	Manager   *resources.Manager
	Auth      Authenticator
	Log       *slog.Logger
	// Extra handles non-ARM paths (OAuth endpoints, health); nil: none.
	Extra http.Handler
	// Providers serves the resource-provider reads; nil: not served.
	Providers *Providers
	// Policies and PolicySets serve the built-in policy definitions and
	// initiatives; nil: none loaded.
	Policies, PolicySets *PolicyDefinitions
	// Roles serves the built-in role definitions (nil: none loaded; the
	// paths are then refused as not served).
	Roles *RoleDefinitions
	// Deployments serves the deployment requests that are more than a
	// write of the record (deploy.Handler: a PUT's preflight, validate,
	// whatIf) and authorizes them itself; nil: the manager alone.
	Deployments Insights
	// Insights serves the Microsoft.PolicyInsights API (nil: not served;
	// the manager refuses those paths).
	Insights Insights
	// TrustedProxies are the prefixes of reverse proxies whose
	// X-Forwarded-For names the client (serve --trusted-proxy; none:
	// the TCP peer is the client). See ClientAddr.
	TrustedProxies []netip.Prefix
	// Inbound checks the ARM actions of a workspace's data plane
	// (dataPlaneAction) against its network settings (nil: none).
	Inbound Inbound
	// Changes opens the dashboard's change streams (changes.go; nil:
	// not served).
	Changes Changes
}

// statusOf maps ARM error codes to HTTP statuses (the one table).
var statusOf = map[string]int{
	"MissingApiVersionParameter": 400, "InvalidApiVersionParameter": 400, "NoRegisteredProviderFound": 400,
	"InvalidRequestContent": 400, "InvalidResourceId": 400, "InvalidResourceName": 400, "InvalidResourceGroupName": 400,
	"InvalidResourceType": 400, "InvalidResourceLocation": 400, "LocationRequired": 400, "InvalidTag": 400,
	"InvalidTagName": 400, "InvalidIdentity": 400, "InvalidIdentityType": 400, "InvalidQueryParameter": 400,
	"InvalidSkipToken": 400, "InvalidFilter": 400, "InvalidAction": 400, "OperationNotSupported": 400,
	"UnsupportedMediaType": 415, "RequestEntityTooLarge": 413, "MethodNotAllowed": 405, "InvalidRequestHeader": 400, "InvalidRequestHost": 400, "RequestHeaderFieldsTooLarge": 431,
	"SubscriptionNotFound": 404, "ResourceGroupNotFound": 404, "ResourceNotFound": 404, "ParentResourceNotFound": 404,
	"OperationNotFound": 404, "NotFound": 404,
	"Conflict": 409, "DeploymentActive": 409, "ResourceGroupBeingDeleted": 409, "ScopeLocked": 409,
	"RoleAssignmentExists": 409, "RoleDefinitionExists": 409, "RoleDefinitionWithSameNameExists": 409, "RoleDefinitionHasAssignments": 409,
	"KeyVaultKeyDisabled": 409, "KeyVaultKeyExpired": 409, "KeyVaultKeyInUse": 409,
	"InvalidKeyVaultArmId": 400, "InvalidKeyIdentifier": 400, "KeyVaultNotFound": 400, "KeyVaultKeyNotFound": 400, "KeyVaultKeyOperationsNotAllowed": 400, "InvalidEncryptionChange": 400,
	"PreconditionFailed":  412,
	"AuthorizationFailed": 403, "RequestDisallowedByPolicy": 403, "LinkedAuthorizationFailed": 403,
	"TooManyRequests": 429,
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	corr := req.Header.Get("x-ms-correlation-request-id")
	if corr == "" || len(corr) > maxCorrelationID {
		corr = uuid.New()
	}
	reqID := uuid.New()
	h := w.Header()
	h.Set("x-ms-request-id", reqID)
	h.Set("x-ms-correlation-request-id", corr)
	clientReqID := req.Header.Get("x-ms-client-request-id")
	if len(clientReqID) <= MaxClientRequestID && strings.EqualFold(req.Header.Get("x-ms-return-client-request-id"), "true") && clientReqID != "" {
		h.Set("x-ms-client-request-id", clientReqID)
	}
	defer func() {
		if p := recover(); p != nil {
			s.logger().Error("panic serving request", "correlationId", corr, "path", req.URL.Path, "panic", fmt.Sprint(p))
			writeError(w, 500, &arm.Error{Code: "InternalServerError", Message: "The server encountered an internal error. Correlation id: " + corr + "."})
		}
	}()
	collapseSlashes(req.URL)
	req = s.withClientAddr(req)
	query, aerr := s.checkRequest(req)
	if aerr != nil {
		s.refuse(w, req, aerr)
		return
	}
	if !isARMPath(req.URL.Path) {
		if s.Extra == nil {
			s.refuse(w, req, arm.Errorf("NotFound", "The path '%s' is not served.", arm.Clip(req.URL.Path, 300)))
			return
		}
		s.Extra.ServeHTTP(&plainErrors{ResponseWriter: w, req: req}, req)
		return
	}
	caller, err := s.authenticate(req)
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			if ae.WWWAuthenticate != "" {
				h.Set("WWW-Authenticate", ae.WWWAuthenticate)
			}
			s.refuseStatus(w, req, 401, &arm.Error{Code: ae.Code, Message: ae.Message})
			return
		}
		bodyUnread(w, req)
		s.fail(w, corr, err)
		return
	}
	if len(clientReqID) > MaxClientRequestID {
		s.refuse(w, req, arm.Errorf("InvalidRequestHeader", "The header 'x-ms-client-request-id' is %d characters long; at most %d are allowed.", len(clientReqID), MaxClientRequestID))
		return
	}
	if ns, ok := operationsPath(req.URL.Path); ok && s.Providers != nil {
		s.Providers.serveOperations(w, req, ns)
		return
	}
	if sub, ns, ok := providersPath(req.URL.Path); ok && s.Providers != nil {
		if sub != "" {
			// The providers of a subscription: read by who may read
			// them there (the operations and the tenant's providers
			// are open to every caller of the tenant).
			if err := s.Manager.Authorize(req.Context(), caller, "Microsoft.Resources/subscriptions/providers/read", "/subscriptions/"+sub); err != nil {
				bodyUnread(w, req)
				s.fail(w, corr, err)
				return
			}
		}
		s.Providers.serve(w, req, sub, ns)
		return
	}
	if id, err := arm.ParseID(req.URL.Path); err == nil {
		if scope, ok := changesScope(id); ok {
			if err := s.serveChanges(w, req, caller, id, scope, query); err != nil {
				bodyUnread(w, req)
				s.fail(w, corr, err)
			}
			return
		}
		// Role definitions are read here, by any caller of the tenant
		// (the built-ins and the custom roles); a custom role is written
		// through the resource manager (package access).
		if scope, one, ok := denyAssignmentsPath(id); ok {
			if err := s.Manager.Authorize(req.Context(), caller, "Microsoft.Authorization/denyAssignments/read", cmp.Or(scope, "/")); err != nil {
				bodyUnread(w, req)
				s.fail(w, corr, err)
				return
			}
			s.serveDenyAssignments(w, req, scope, one)
			return
		}
		if sub, ok := roleDefinitionsPath(id); ok && (req.Method == "GET" || req.Method == "HEAD") {
			cmp.Or(s.Roles, NewRoleDefinitions(nil)).serve(w, req, id, sub)
			return
		}
		var p *PolicyDefinitions
		switch builtInsPath(id) {
		case "policyDefinitions":
			p = cmp.Or(s.Policies, NewPolicyDefinitions(nil))
		case "policySetDefinitions":
			p = cmp.Or(s.PolicySets, NewPolicySetDefinitions(nil))
		}
		if p != nil {
			p.serve(w, req, id, s.PublicURL)
			return
		}
	}
	r, aerr := s.parse(req, caller, corr, query)
	if aerr != nil {
		if r != nil { // authenticated and addressed: the refusal is logged
			s.Manager.RecordFailure(context.WithoutCancel(req.Context()), r, statusFor(aerr.Code), aerr)
		}
		s.refuse(w, req, aerr)
		return
	}
	if ws, ok := dataPlaneAction(r); ok && inboundRefused(w, req, s.Inbound, ws, "", s.logger().Error, func(aerr *arm.Error, _ string) {
		s.Manager.RecordFailure(context.WithoutCancel(req.Context()), r, 403, aerr)
	}) {
		return
	}
	var resp *resources.Response
	if s.Deployments != nil && s.Deployments.Serves(r.ID) {
		resp, err = s.Deployments.Handle(req.Context(), r)
	} else if s.Insights != nil && s.Insights.Serves(r.ID) {
		action, scope := insightsTarget(r.ID)
		if err = s.Manager.Authorize(req.Context(), caller, action, scope); err == nil {
			resp, err = s.Insights.Handle(req.Context(), r)
		}
	} else {
		resp, err = s.Manager.Handle(req.Context(), r)
	}
	if err != nil {
		status := 500
		var ae *arm.Error
		if errors.As(err, &ae) {
			status = statusFor(ae.Code)
		}
		s.Manager.RecordFailure(context.WithoutCancel(req.Context()), r, status, err)
		s.fail(w, corr, err)
		return
	}
	s.render(w, r, resp)
}

// insightsTarget is the authorization action and scope of a
// Microsoft.PolicyInsights request:
// {scope}/providers/Microsoft.PolicyInsights/{policyStates|policyEvents}/{resource}/{verb}
// needs Microsoft.PolicyInsights/{type}/{verb}/read (triggerEvaluation:
// /action) at the scope; checkPolicyRestrictions, its /read;
// {scope}/providers/Mlgov.Governance/complianceHistory, summarize's.
func insightsTarget(id *arm.ID) (action, scope string) {
	if strings.EqualFold(id.TrailingNamespace, "Mlgov.Governance") && strings.EqualFold(id.Trailing, "complianceHistory") {
		// The compliance trend: what summarize at the scope needs (it
		// is summarize's results over time).
		scopeID := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts}
		return "Microsoft.PolicyInsights/policyStates/summarize/read", cmp.Or(scopeID.String(), "/")
	}
	if len(id.Parts) == 0 && strings.EqualFold(id.Trailing, "checkPolicyRestrictions") {
		// {subscription or resource group}/providers/Microsoft.PolicyInsights/checkPolicyRestrictions
		return "Microsoft.PolicyInsights/checkPolicyRestrictions/read", id.String()
	}
	i := len(id.Parts) - 1
	for i > 0 && id.Parts[i].Namespace == "" {
		i--
	}
	if i < 0 {
		return "Microsoft.PolicyInsights/read", id.String()
	}
	p := id.Parts[i]
	scopeID := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:i]}
	action = p.Namespace + "/" + p.Type
	if id.Trailing != "" {
		action += "/" + id.Trailing
	}
	if strings.EqualFold(id.Trailing, "triggerEvaluation") {
		return action + "/action", scopeID.String()
	}
	return action + "/read", scopeID.String()
}

// Insights serves the paths it Serves (the PolicyInsights API) in place
// of the resource manager.
type Insights interface {
	Serves(id *arm.ID) bool
	Handle(ctx context.Context, r *resources.Request) (*resources.Response, error)
}

// checkRequest refuses what no handler should see: an absolute-form
// request for another host, headers over MaxHeaderBytes, a query that is
// not valid %-encoding. It returns the parsed query.
func (s *Server) checkRequest(req *http.Request) (url.Values, *arm.Error) {
	if req.URL.Host != "" && s.PublicURL != "" && !sameHost(req.URL.Host, s.PublicURL) {
		return nil, arm.Errorf("InvalidRequestHost", "The request names the host '%s'; this server is %s.", arm.Clip(req.URL.Host, 256), s.PublicURL)
	}
	if n := headerBytes(req); n > MaxHeaderBytes {
		return nil, arm.Errorf("RequestHeaderFieldsTooLarge", "The request headers are %d bytes; at most %d are allowed.", n, MaxHeaderBytes)
	}
	if raw := req.URL.RawPath; raw != "" && (strings.Contains(raw, "%2F") || strings.Contains(raw, "%2f")) && isARMPath(req.URL.Path) {
		if !encodedScope(raw) {
			return nil, arm.Errorf("InvalidResourceId", "The path '%s' contains an encoded slash (%%2F); resource names cannot contain '/'.", arm.Clip(raw, 300))
		}
		// A {scope} parameter sent encoded, as AutoRest clients without
		// x-ms-skip-url-encoding send it (@azure/arm-locks' *ByScope):
		// ARM decodes it, and so does mlgov (the path is the decoded one,
		// its slashes collapsed).
		req.URL.RawPath = ""
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return nil, arm.Errorf("InvalidQueryParameter", "The query string is not valid: %v.", err)
	}
	return q, nil
}

// encodedScope reports whether the only encoded slashes of a raw path
// are those of its first segment and that segment is a scope: it starts
// with an encoded slash ("/%2Fsubscriptions%2F…/providers/…") and has no
// "." or ".." segment.
func encodedScope(raw string) bool {
	if len(raw) < 4 || !strings.EqualFold(raw[:4], "/%2F") {
		return false
	}
	first, rest, _ := strings.Cut(raw[1:], "/")
	if strings.Contains(strings.ToLower(rest), "%2f") {
		return false
	}
	scope, err := url.PathUnescape(first)
	if err != nil {
		return false
	}
	for _, seg := range strings.Split(scope, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// collapseSlashes makes repeated slashes in the path one, as ARM does
// (@azure/arm-policy sends PUT //subscriptions/... for a scope with a
// leading slash): no redirect, which a client would follow without its
// token.
func collapseSlashes(u *url.URL) {
	if !strings.Contains(u.Path, "//") {
		return
	}
	u.Path = collapse(u.Path)
	if u.RawPath != "" {
		u.RawPath = collapse(u.RawPath)
	}
}

func collapse(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// sameHost reports whether host (from an absolute-form request line)
// names the host and port of public.
func sameHost(host, public string) bool {
	u, err := url.Parse(public)
	if err != nil {
		return false
	}
	want := u.Host
	if u.Port() == "" {
		want = net.JoinHostPort(u.Hostname(), "443")
	}
	got := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		got = net.JoinHostPort(strings.Trim(host, "[]"), "443")
	}
	return strings.EqualFold(got, want)
}

// headerBytes is about what the request line and headers took on the wire.
func headerBytes(req *http.Request) int {
	n := len(req.Method) + len(req.RequestURI) + len(req.Host) + 16
	for k, vs := range req.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// refuse answers with an ARM error without reading the request body.
func (s *Server) refuse(w http.ResponseWriter, req *http.Request, e *arm.Error) {
	s.refuseStatus(w, req, statusFor(e.Code), e)
}

func (s *Server) refuseStatus(w http.ResponseWriter, req *http.Request, status int, e *arm.Error) {
	bodyUnread(w, req)
	writeError(w, status, e)
}

// bodyUnread closes the connection after the answer when a request body
// is announced and not read: otherwise net/http reads up to 256 KiB of it
// before answering, at whatever pace the client sends it (a refusal must
// not wait for a slow body).
//
// The read deadline is moved to now as well: after the answer, net/http
// would otherwise still read up to 256 KiB of the body before closing.
func bodyUnread(w http.ResponseWriter, req *http.Request) {
	if req.ContentLength != 0 && req.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
		http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

func statusFor(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return 400
}

// isARMPath reports whether a path belongs to the ARM API.
func isARMPath(p string) bool {
	return hasPrefixFold(p, "/subscriptions") || hasPrefixFold(p, "/providers/")
}

// hasPrefixFold is strings.HasPrefix ignoring case, for an ASCII prefix.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (s *Server) authenticate(req *http.Request) (*activitylog.Caller, error) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return nil, &AuthError{Code: "AuthenticationFailed", Message: "Authentication failed. The 'Authorization' header is missing.",
			WWWAuthenticate: `Bearer authorization_uri="` + s.PublicURL + `", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`}
	}
	if s.Auth == nil {
		return nil, &AuthError{Code: "AuthenticationFailed", Message: "Authentication failed: no token verifier is configured."}
	}
	return s.Auth.Authenticate(WithClientAddress(req.Context(), clientIP(req)), h)
}

type clientAddressKey struct{}

// WithClientAddress records the client's address in ctx, for the
// verifiers that decide by it (conditional access on external tokens).
func WithClientAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddressKey{}, addr)
}

// ClientAddress is the client's address WithClientAddress recorded ("").
func ClientAddress(ctx context.Context) string {
	a, _ := ctx.Value(clientAddressKey{}).(string)
	return a
}

// parse turns an HTTP request into a resources.Request. After the path is
// parsed, a refusal comes back with the request, for the activity log.
func (s *Server) parse(req *http.Request, caller *activitylog.Caller, corr string, q url.Values) (*resources.Request, *arm.Error) {
	path := deploymentOperationsPath(req.URL.Path)
	var id *arm.ID
	if strings.EqualFold(strings.TrimSuffix(path, "/"), "/subscriptions") {
		id = &arm.ID{Trailing: "subscriptions"} // the tenant's subscriptions (subscriptions.list)
	} else {
		var err error
		if id, err = arm.ParseID(path); err != nil {
			var ae *arm.Error
			errors.As(err, &ae)
			return nil, ae
		}
	}
	r := &resources.Request{
		Method: req.Method, Path: strings.TrimSuffix(path, "/"), ID: id, Query: q,
		APIVersion: q.Get("api-version"), IfMatch: req.Header.Get("If-Match"), IfNoneMatch: req.Header.Get("If-None-Match"),
		Caller: *caller, CorrelationID: corr, ClientRequestID: req.Header.Get("x-ms-client-request-id"),
		ClientIP: clientIP(req),
	}
	if req.Method == "PUT" || req.Method == "PATCH" || req.Method == "POST" {
		if ct := req.Header.Get("Content-Type"); ct != "" && req.ContentLength != 0 && !strings.Contains(strings.ToLower(ct), "json") {
			return r, arm.Errorf("UnsupportedMediaType", "The content media type '%s' is not supported. Only 'application/json' is supported.", arm.Clip(ct, 256))
		}
		if req.ContentLength > MaxBody {
			return r, arm.Errorf("RequestEntityTooLarge", "The request content is larger than the limit of %d bytes.", MaxBody)
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
		if err != nil {
			return r, arm.Errorf("InvalidRequestContent", "The request content could not be read.")
		}
		if len(body) > MaxBody {
			return r, arm.Errorf("RequestEntityTooLarge", "The request content is larger than the limit of %d bytes.", MaxBody)
		}
		r.Body = body
	}
	return r, nil
}

// deploymentOperationsPath maps ARM's path of a resource group
// deployment's operations, /subscriptions/{s}/resourcegroups/{rg}/deployments/{name}/operations[/{id}]
// (without providers/Microsoft.Resources, as Azure's REST API has it),
// to the deployment's own path; other paths are returned as they are.
func deploymentOperationsPath(p string) string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(segs) < 7 || !strings.EqualFold(segs[0], "subscriptions") || !strings.EqualFold(segs[2], "resourcegroups") ||
		!strings.EqualFold(segs[4], "deployments") || !strings.EqualFold(segs[6], "operations") {
		return p
	}
	return "/" + strings.Join(segs[:4], "/") + "/providers/Microsoft.Resources/" + strings.Join(segs[4:], "/")
}

func (s *Server) fail(w http.ResponseWriter, corr string, err error) {
	var ae *arm.Error
	if errors.As(err, &ae) {
		writeError(w, statusFor(ae.Code), ae)
		return
	}
	s.logger().Error("internal error", "correlationId", corr, "err", err)
	writeError(w, 500, &arm.Error{Code: "InternalServerError", Message: "The server encountered an internal error. Correlation id: " + corr + "."})
}

// writeError writes the ARM error envelope.
func writeError(w http.ResponseWriter, status int, e *arm.Error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-failure-cause", "gateway")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": envelope(e)})
}

func envelope(e *arm.Error) map[string]any {
	m := map[string]any{"code": e.Code, "message": e.Message}
	if e.Target != "" {
		m["target"] = e.Target
	}
	if len(e.Details) > 0 {
		var d []any
		for _, x := range e.Details {
			d = append(d, envelope(x))
		}
		m["details"] = d
	}
	if len(e.AdditionalInfo) > 0 {
		m["additionalInfo"] = e.AdditionalInfo
	}
	return m
}

// ClientIP is the address of req's client as the Server resolved it: the
// TCP peer, or behind a trusted proxy (Server.TrustedProxies) the client
// its X-Forwarded-For names; for the handlers below the Server (the
// token endpoint's per-address throttling).
func ClientIP(req *http.Request) string { return clientIP(req) }

func clientIP(req *http.Request) string {
	if a, ok := req.Context().Value(clientAddrKey{}).(netip.Addr); ok {
		return clientString(a)
	}
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}
