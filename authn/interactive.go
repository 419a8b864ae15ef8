package authn

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Interactive sign-in: the authorization code flow with PKCE (RFC 6749
// §4.1, RFC 7636; browsers and the web dashboard) and the device
// authorization grant (RFC 8628; `mlgov login`, az login
// --use-device-code, @azure/identity's DeviceCodeCredential), with
// multifactor authentication by TOTP where conditional access requires
// it, refresh tokens and sign-out.
//
// A sign-in in progress is a flow (KindSignInFlow), a store record that
// the pages of api/oauth move through its stages: the password, then the
// TOTP code, or first the enrolment of an authenticator app when the
// user has none. A flow is bound to the browser that started it (the
// hash of a secret the browser keeps in a cookie), so a flow id seen
// elsewhere cannot be finished by another browser, and it expires after
// flowLifetime. A finished flow makes a session (sessions.go) and then
// either an authorization code (single use, flowLifetime, bound to the
// client, the redirect URI and the PKCE challenge) or the approval of a
// device code. The token endpoint redeems codes, device codes and
// refresh tokens (grants.go).
//
// The clients: Microsoft's first-party public clients (the Azure CLI,
// Azure PowerShell), which may redirect to any loopback address as Entra
// lets them, and the tenant's applications, which redirect only to the
// publicClient or spa redirect URIs registered on them (Graph's
// application). PKCE with S256 is required of every code flow (OAuth
// 2.1); plain is refused.

// Store kinds of the interactive sign-in.
const (
	KindSignInFlow = "signInFlows" // key: flow id
	KindAuthCode   = "authCodes"   // key: hex SHA-256 of the code
	KindDeviceCode = "deviceCodes" // key: the user code
)

const (
	flowLifetime       = 10 * time.Minute
	deviceCodeLifetime = 15 * time.Minute
	// DevicePollInterval is the interval a device code client is told
	// to poll at.
	DevicePollInterval = 5 * time.Second
	// userCodeAlphabet has no vowels (no words) and no look-alikes.
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 9
	// maxFlowCodeFailures wrong verification codes end a flow: the
	// password is asked again. They also count towards the second
	// factor's lockout (Throttle's thresholds, per user).
	maxFlowCodeFailures = 5
)

// flowRecord is a sign-in in progress.
type flowRecord struct {
	ID       string    `json:"id"`
	TenantID string    `json:"tenantId"`
	Binding  []byte    `json:"binding"`
	Expires  time.Time `json:"expires"`
	Client   string    `json:"clientId"`
	// ClientName is the client's display name (the pages show it).
	ClientName string `json:"clientName"`
	Scope      string `json:"scope"`
	Audience   string `json:"audience"`
	// Code flows.
	RedirectURI   string `json:"redirectUri,omitempty"`
	ResponseMode  string `json:"responseMode,omitempty"`
	State         string `json:"state,omitempty"`
	Nonce         string `json:"nonce,omitempty"`
	CodeChallenge string `json:"codeChallenge,omitempty"`
	// Device flows: the user code being approved.
	UserCode string `json:"userCode,omitempty"`
	// Stage: "password", "mfa" or "enrol".
	Stage string `json:"stage"`
	// After the password (or an existing browser session).
	UserID    string `json:"userId,omitempty"`
	Username  string `json:"username,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	// Enrol is the authenticator secret offered, until a code confirms it.
	Enrol *sealedSecret `json:"enrol,omitempty"`
	// Applied is the conditional access outcome for the sign-in log.
	Applied []AppliedPolicy `json:"applied,omitempty"`
	// Fails counts wrong verification codes (maxFlowCodeFailures end
	// the flow).
	Fails int `json:"fails,omitempty"`
}

// totpRecord is a user's authenticator app.
type totpRecord struct {
	ID        string       `json:"id"`
	Secret    sealedSecret `json:"secret"`
	CreatedAt time.Time    `json:"createdDateTime"`
	// LastStep is the step of the last code accepted (none is accepted
	// again).
	LastStep int64 `json:"lastStep"`
}

// AuthorizeRequest is an authorization request (the query of
// /oauth2/v2.0/authorize).
type AuthorizeRequest struct {
	TenantID, ClientID, ResponseType, RedirectURI, Scope, State, Nonce string
	CodeChallenge, CodeChallengeMethod, ResponseMode, Prompt           string
	// Cookie is the browser's session cookie ("" : none).
	Cookie        string
	ClientAddress string
	CorrelationID string
}

// FlowStep is what a sign-in page shows next.
type FlowStep struct {
	// FlowID names the flow; Binding is the secret the browser keeps
	// (a cookie) to continue it (set when the flow starts).
	FlowID, Binding string
	// TenantID is the flow's tenant (its session cookie's).
	TenantID string
	// Stage: "password", "mfa", "enrol" or "done".
	Stage string
	// Error is a message to show on the stage's page (a wrong password
	// or code); the flow stays at the stage.
	Error      string
	ClientName string
	Resource   string
	Username   string
	// Enrolment: the secret (base32) and its otpauth:// URI.
	EnrolSecret, EnrolURI string
	// Done: Redirect is where a code flow's browser goes (with the code,
	// or an error); a device flow has none. Cookie is the browser's new
	// session cookie ("" : keep the one it has).
	Redirect string
	Cookie   string
}

// FlowError is an error of an authorization request that cannot be
// sent back to the client (its client or redirect URI is not valid):
// the page shows it.
type FlowError struct {
	AADSTS  int
	Message string
}

func (e *FlowError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.AADSTS, e.Message) }

func flowErr(aadsts int, format string, args ...any) *FlowError {
	return &FlowError{AADSTS: aadsts, Message: fmt.Sprintf(format, args...)}
}

// publicClient returns the display name of a public client: a
// first-party one, the web dashboard (when it is served: its redirect
// URI is its only one, as a single-page application's) or an
// application of the tenant that allows public client flows; "" when
// the client is none of these.
func (s *Service) publicClient(ctx context.Context, tx store.Tx, tenantID, clientID string) (name string, app *spRecord, err error) {
	if n, ok := publicClients[strings.ToLower(clientID)]; ok {
		return n, nil, nil
	}
	if strings.EqualFold(clientID, DashboardClientID) && s.cfg.DashboardRedirectURI != "" {
		return DashboardName, &spRecord{TenantID: tenantID, AppID: DashboardClientID, DisplayName: DashboardName, SPARedirectURIs: []string{s.cfg.DashboardRedirectURI}}, nil
	}
	if !uuid.Valid(clientID) {
		return "", nil, nil
	}
	app, err = getSP(ctx, tx, tenantID, clientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (app.Disabled || app.NoServicePrincipal)) {
		return "", nil, nil
	} else if err != nil {
		return "", nil, err
	}
	return app.DisplayName, app, nil
}

// redirectAllowed reports whether a client may redirect to uri: an
// application to its registered publicClient or spa redirect URIs
// (exactly), a first-party client to any loopback http URI (any port,
// as Entra allows native clients).
func redirectAllowed(app *spRecord, uri string) bool {
	if app != nil {
		all := slices.Concat(app.RedirectURIs, app.SPARedirectURIs)
		return slices.Contains(all, uri) || (loopback(uri) && slices.ContainsFunc(all, func(r string) bool { return loopback(r) && samePathIgnoringPort(r, uri) }))
	}
	return loopback(uri)
}

func loopback(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.Fragment != "" {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

// samePathIgnoringPort: RFC 8252 §7.3, a loopback redirect URI matches
// with any port.
func samePathIgnoringPort(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Hostname() == ub.Hostname() && ua.Path == ub.Path
}

// delegatedScope parses the scope of a user's flow: the resource's
// scopes ("{resource}/.default" or "{resource}/user_impersonation", of
// one resource; none means Microsoft Graph, as Entra gives) and the
// OpenID ones.
func delegatedScope(scope, tenantID string) (aud string, resource []string, openid, offline bool, oerr *OAuthError) {
	var res string
	for _, sc := range strings.Fields(scope) {
		switch strings.ToLower(sc) {
		case "openid":
			openid = true
			continue
		case "offline_access":
			offline = true
			continue
		case "profile", "email":
			continue
		}
		r, ok := strings.CutSuffix(sc, "/.default")
		if !ok {
			r, ok = strings.CutSuffix(sc, "/user_impersonation")
		}
		if !ok || r == "" {
			return "", nil, false, false, oauthErr("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope %s is not valid: a scope is {resource}/.default or {resource}/user_impersonation.", clip(sc))
		}
		r = strings.TrimSuffix(r, "/")
		if res != "" && !strings.EqualFold(res, r) {
			return "", nil, false, false, oauthErr("invalid_scope", 28000, "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", clip(scope))
		}
		res = r
		resource = append(resource, sc)
	}
	if res == "" {
		return GraphAudiences[0], nil, openid, offline, nil
	}
	aud, oerr = resourceOf(res+"/.default", tenantID)
	return aud, resource, openid, offline, oerr
}

// StartAuthorize begins a code flow. An invalid client or redirect URI
// is a *FlowError (shown, never redirected); other invalid parameters
// are sent back to the redirect URI (a done step with Redirect). A
// browser with a live session (its cookie) skips the password unless
// prompt=login.
func (s *Service) StartAuthorize(ctx context.Context, r AuthorizeRequest) (*FlowStep, error) {
	tenantID := strings.ToLower(r.TenantID)
	now := s.now()
	var app *spRecord
	var name string
	err := s.st.Read(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); err != nil {
			return err
		}
		var err error
		name, app, err = s.publicClient(ctx, tx, tenantID, r.ClientID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound) || !uuid.Valid(tenantID):
		return nil, flowErr(90002, "Tenant '%s' not found.", clip(r.TenantID))
	case err != nil:
		return nil, err
	case r.ClientID == "":
		return nil, flowErr(900144, "The request body must contain the following parameter: 'client_id'.")
	case name == "":
		return nil, flowErr(700016, "Application with identifier '%s' was not found in the directory '%s', or it is not enabled for sign-in.", clip(r.ClientID), tenantID)
	case r.RedirectURI == "":
		return nil, flowErr(900144, "The request must contain the parameter 'redirect_uri'.")
	case !redirectAllowed(app, r.RedirectURI):
		return nil, flowErr(50011, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", clip(r.RedirectURI), clip(r.ClientID))
	}
	mode := r.ResponseMode
	if mode == "" {
		mode = "query"
	}
	if mode != "query" && mode != "fragment" {
		return nil, flowErr(900144, "response_mode '%s' is not served: use query or fragment.", clip(mode))
	}
	back := func(oe *OAuthError) (*FlowStep, error) {
		return &FlowStep{Stage: "done", Redirect: redirectWith(r.RedirectURI, mode, url.Values{"error": {oe.Code},
			"error_description": {fmt.Sprintf("AADSTS%d: %s", oe.AADSTS, oe.Description)}, "state": {r.State}})}, nil
	}
	switch {
	case r.ResponseType != "code":
		return back(oauthErr("unsupported_response_type", 700054, "response_type '%s' is not served: this server issues authorization codes only (response_type=code).", clip(r.ResponseType)))
	case r.CodeChallenge == "":
		return back(oauthErr("invalid_request", 9002325, "Proof Key for Code Exchange is required: the request must contain code_challenge (with code_challenge_method S256)."))
	case r.CodeChallengeMethod != "S256":
		return back(oauthErr("invalid_request", 9002325, "code_challenge_method '%s' is not served: use S256.", clip(r.CodeChallengeMethod)))
	case len(r.CodeChallenge) != 43:
		return back(oauthErr("invalid_request", 9002325, "The code_challenge is not an S256 challenge (43 base64url characters)."))
	case r.Prompt != "" && r.Prompt != "login" && r.Prompt != "select_account" && r.Prompt != "none" && r.Prompt != "consent":
		return back(oauthErr("invalid_request", 90023, "prompt '%s' is not served.", clip(r.Prompt)))
	}
	aud, _, _, _, oe := delegatedScope(r.Scope, tenantID)
	if oe != nil {
		return back(oe)
	}
	f := &flowRecord{TenantID: tenantID, Client: strings.ToLower(r.ClientID), ClientName: name, Scope: r.Scope, Audience: aud,
		RedirectURI: r.RedirectURI, ResponseMode: mode, State: r.State, Nonce: r.Nonce, CodeChallenge: r.CodeChallenge, Stage: "password"}
	return s.startFlow(ctx, f, r.Cookie, r.Prompt, r.ClientAddress, r.CorrelationID, now)
}

// redirectWith adds parameters to a redirect URI, in its query or its
// fragment.
func redirectWith(uri, mode string, v url.Values) string {
	for k, vs := range v {
		if len(vs) == 1 && vs[0] == "" {
			delete(v, k)
		}
	}
	if mode == "fragment" {
		return uri + "#" + v.Encode()
	}
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + v.Encode()
}

// startFlow stores a new flow. With a live browser session (and no
// prompt=login) the password stage is skipped.
func (s *Service) startFlow(ctx context.Context, f *flowRecord, cookie, prompt, addr, corr string, now time.Time) (*FlowStep, error) {
	binding, err := randomID(s.cfg.Rand, 32)
	if err != nil {
		return nil, err
	}
	if f.ID, err = randomID(s.cfg.Rand, 24); err != nil {
		return nil, err
	}
	f.Binding, f.Expires = tokenHash(binding), now.Add(flowLifetime)
	var step *FlowStep
	var oid string
	err = s.st.Write(ctx, func(tx store.Tx) error {
		step, oid = nil, ""
		if err := s.gcExpired(ctx, tx, KindSignInFlow, now); err != nil {
			return err
		}
		if cookie != "" && prompt != "login" {
			rec, ss, err := browserSession(ctx, tx, f.TenantID, cookie, now)
			if err != nil {
				return err
			}
			if rec != nil {
				f.UserID, f.Username, f.SessionID, oid = rec.ObjectID, rec.UserPrincipalName, ss.ID, rec.ObjectID
				if step, err = s.afterFirstFactor(ctx, tx, f, rec, ss.mfa(), addr, corr, now); err != nil {
					return err
				}
			}
		}
		if prompt == "none" && step != nil && step.Stage != "done" {
			step = &FlowStep{Stage: "done", Redirect: redirectWith(f.RedirectURI, f.ResponseMode, url.Values{"error": {"interaction_required"},
				"error_description": {"AADSTS50076: A silent sign-in request was sent but the user must do multi-factor authentication."}, "state": {f.State}})}
			return nil
		}
		if prompt == "none" && step == nil {
			step = &FlowStep{Stage: "done", Redirect: redirectWith(f.RedirectURI, f.ResponseMode, url.Values{"error": {"login_required"},
				"error_description": {"AADSTS50058: A silent sign-in request was sent but no user is signed in."}, "state": {f.State}})}
			return nil
		}
		if step != nil && step.Stage == "done" {
			return nil
		}
		return putFlow(ctx, tx, f)
	})
	s.invalidateUser(f.TenantID, oid)
	if err != nil {
		return nil, err
	}
	if step == nil {
		step = &FlowStep{Stage: "password"}
	}
	step.FlowID, step.Binding, step.ClientName, step.Resource, step.TenantID = f.ID, binding, f.ClientName, resourceAppName(f.Audience), f.TenantID
	return step, nil
}

func putFlow(ctx context.Context, tx store.Tx, f *flowRecord) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return tx.PutObject(ctx, &store.Object{Kind: KindSignInFlow, Key: f.ID, Body: b, UpdatedAt: time.Now().UTC()})
}

// gcExpired deletes the records of a kind whose "expires" has passed
// (abandoned flows and codes).
func (s *Service) gcExpired(ctx context.Context, tx store.Tx, kind string, now time.Time) error {
	objs, err := tx.ListObjects(ctx, kind)
	if err != nil {
		return err
	}
	for _, o := range objs {
		var e struct {
			Expires time.Time `json:"expires"`
		}
		if json.Unmarshal(o.Body, &e) == nil && now.After(e.Expires.Add(flowLifetime)) {
			if err := tx.DeleteObject(ctx, kind, o.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadFlow returns the flow of an id and binding, or a *FlowError.
func loadFlow(ctx context.Context, tx store.Tx, id, binding string, now time.Time) (*flowRecord, error) {
	o, err := tx.GetObject(ctx, KindSignInFlow, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, flowErr(50058, "This sign-in is not in progress (it ended or expired); start again from the application.")
	} else if err != nil {
		return nil, err
	}
	var f flowRecord
	if err := json.Unmarshal(o.Body, &f); err != nil {
		return nil, err
	}
	if !sameHash(f.Binding, tokenHash(binding)) {
		return nil, flowErr(50058, "This sign-in was started in another browser; start again from the application.")
	}
	if now.After(f.Expires) {
		return nil, flowErr(50058, "This sign-in expired; start again from the application.")
	}
	return &f, nil
}

// FlowPassword takes the password stage of a flow.
func (s *Service) FlowPassword(ctx context.Context, flowID, binding, username, password, addr, corr string) (*FlowStep, error) {
	now := s.now()
	var step *FlowStep
	var si *SignIn
	var tid, oid string
	err := s.st.Write(ctx, func(tx store.Tx) error {
		step, si, oid = nil, nil, ""
		f, err := loadFlow(ctx, tx, flowID, binding, now)
		if err != nil {
			return err
		}
		tid = f.TenantID
		if f.Stage != "password" {
			return flowErr(50058, "This sign-in is past its password; continue on its page.")
		}
		rec, err := findUser(ctx, tx, f.TenantID, username)
		if errors.Is(err, store.ErrNotFound) {
			rec = nil
		} else if err != nil {
			return err
		}
		si = s.interactiveSignIn(f, rec, username, addr, corr, now)
		if oe := s.checkPasswordAttempt(f.TenantID, rec, username, password, addr, now); oe != nil {
			si.Status = SignInStatus{ErrorCode: oe.AADSTS, FailureReason: clip(oe.Description)}
			step = &FlowStep{Stage: "password", Error: oe.Description, Username: username, ClientName: f.ClientName, Resource: resourceAppName(f.Audience)}
			return nil
		}
		f.UserID, f.Username = rec.ObjectID, rec.UserPrincipalName
		oid = rec.ObjectID
		if step, err = s.afterFirstFactor(ctx, tx, f, rec, false, addr, corr, now); err != nil {
			return err
		}
		if step.Stage == "done" {
			si = nil // afterFirstFactor logged the completed sign-in
			return tx.DeleteObject(ctx, KindSignInFlow, f.ID)
		}
		si = nil
		return putFlow(ctx, tx, f)
	})
	s.invalidateUser(tid, oid)
	if si != nil {
		if lerr := s.logSignInRecord(ctx, si); lerr != nil {
			return nil, lerr
		}
	}
	if err != nil {
		return nil, err
	}
	return s.fillStep(step, flowID, tid), nil
}

func (s *Service) fillStep(step *FlowStep, flowID, tenantID string) *FlowStep {
	if step.FlowID == "" {
		step.FlowID = flowID
	}
	step.TenantID = tenantID
	return step
}

// checkPasswordAttempt checks a user's password with the throttling and
// lockout of the password grant; nil when it is right and the account
// enabled.
func (s *Service) checkPasswordAttempt(tenantID string, rec *userRecord, username, password, addr string, now time.Time) *OAuthError {
	if username == "" || password == "" {
		return oauthErr("invalid_grant", 50126, "Enter your user name and password.")
	}
	ck, ak := clientKey(tenantID, "user:"+strings.ToLower(username)), addressKey(addr)
	if until := s.attempts.lockedUntil(ck); now.Before(until) {
		return lockedOut(username, until.Sub(now))
	}
	if retry, which, lock := s.attempts.admit(ck, ak, now); lock {
		s.attempts.lockMemory(ck, now.Add(s.cfg.Throttle.LockoutDuration))
		return lockedOut(username, s.cfg.Throttle.LockoutDuration)
	} else if retry > 0 {
		return throttled(which, username, addr, retry)
	}
	if !matchUser(rec, password) {
		if s.attempts.fail(ck, now) {
			s.attempts.lockMemory(ck, now.Add(s.cfg.Throttle.LockoutDuration))
		}
		return oauthErr("invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
	}
	s.attempts.succeed(ck, ak)
	if rec.Disabled {
		return oauthErr("invalid_grant", 50057, "The user account is disabled.")
	}
	return nil
}

// interactiveSignIn starts the sign-in log record of a flow's step.
func (s *Service) interactiveSignIn(f *flowRecord, rec *userRecord, username, addr, corr string, now time.Time) *SignIn {
	si := &SignIn{CreatedDateTime: now, AppID: f.Client, AppDisplayName: f.ClientName, IPAddress: addr, CorrelationID: corr,
		ClientCredentialType: "none", HomeTenantID: f.TenantID, ResourceTenantID: f.TenantID, SignInEventTypes: []string{"interactiveUser"},
		IsInteractive: true, ConditionalAccessStatus: "notApplied", AppliedConditionalAccessPolicies: []AppliedPolicy{},
		UserPrincipalName: clip(username), ResourceID: resourceApp(f.Audience), ResourceDisplayName: resourceAppName(f.Audience),
		AuthenticationRequirement: "singleFactorAuthentication"}
	if rec != nil {
		si.UserID, si.UserPrincipalName = rec.ObjectID, rec.UserPrincipalName
	}
	return si
}

// afterFirstFactor decides what follows the password (or a browser
// session, mfaDone when it has done MFA): conditional access blocks,
// asks for the second factor (or its enrolment), or lets the flow
// finish.
func (s *Service) afterFirstFactor(ctx context.Context, tx store.Tx, f *flowRecord, rec *userRecord, mfaDone bool, addr, corr string, now time.Time) (*FlowStep, error) {
	applied, blocked, mfa, err := evaluateUserTx(ctx, tx, f.TenantID, rec.ObjectID, f.Audience, addr)
	if err != nil {
		return nil, err
	}
	f.Applied = applied
	if blocked || !mfa || mfaDone {
		return s.finishFlow(ctx, tx, f, rec, mfa || mfaDone, addr, corr, now)
	}
	if rec.TOTP != nil {
		f.Stage = "mfa"
		return &FlowStep{Stage: "mfa", Username: rec.UserPrincipalName, ClientName: f.ClientName, Resource: resourceAppName(f.Audience)}, nil
	}
	secret, err := newTOTPSecret(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealSecret(secret, "enrol/"+f.ID)
	if err != nil {
		return nil, err
	}
	f.Stage, f.Enrol = "enrol", &sealed
	return &FlowStep{Stage: "enrol", Username: rec.UserPrincipalName, ClientName: f.ClientName, Resource: resourceAppName(f.Audience),
		EnrolSecret: totpEncoding.EncodeToString(secret), EnrolURI: totpURI(secret, "mlgov", rec.UserPrincipalName)}, nil
}

// FlowTOTP takes the second factor (or the enrolment's first code).
func (s *Service) FlowTOTP(ctx context.Context, flowID, binding, code, addr, corr string) (*FlowStep, error) {
	now := s.now()
	var step *FlowStep
	var si *SignIn
	var oid, tid string
	err := s.st.Write(ctx, func(tx store.Tx) error {
		step, si = nil, nil
		f, err := loadFlow(ctx, tx, flowID, binding, now)
		if err != nil {
			return err
		}
		if f.Stage != "mfa" && f.Stage != "enrol" {
			return flowErr(50058, "This sign-in does not expect a verification code now.")
		}
		rec, err := getUser(ctx, tx, f.TenantID, f.UserID)
		if err != nil {
			return err
		}
		if rec == nil || rec.Disabled {
			return flowErr(50057, "The user account is disabled or was deleted.")
		}
		oid, tid = rec.ObjectID, rec.TenantID
		var secret []byte
		if f.Stage == "enrol" {
			secret, err = s.openSecret(*f.Enrol, "enrol/"+f.ID)
		} else {
			secret, err = s.openSecret(rec.TOTP.Secret, "totp/"+userKey(rec.TenantID, rec.ObjectID))
		}
		if err != nil {
			return err
		}
		ck := clientKey(f.TenantID, "mfa:"+rec.ObjectID)
		var last int64
		if rec.TOTP != nil && f.Stage == "mfa" {
			last = rec.TOTP.LastStep
		}
		si = s.interactiveSignIn(f, rec, rec.UserPrincipalName, addr, corr, now)
		si.AuthenticationRequirement = "multiFactorAuthentication"
		if until := s.attempts.lockedUntil(ck); now.Before(until) {
			oe := lockedOut(rec.UserPrincipalName, until.Sub(now))
			si.Status = SignInStatus{ErrorCode: oe.AADSTS, FailureReason: clip(oe.Description)}
			step = &FlowStep{Stage: f.Stage, Error: oe.Description, Username: rec.UserPrincipalName}
			return nil
		}
		st := totpMatch(secret, code, now, last)
		if st == 0 {
			if s.attempts.fail(ck, now) {
				s.attempts.lockMemory(ck, now.Add(s.cfg.Throttle.LockoutDuration))
			}
			si.Status = SignInStatus{ErrorCode: 500121, FailureReason: "Authentication failed during strong authentication request: the verification code is wrong, expired or already used."}
			if f.Fails++; f.Fails >= maxFlowCodeFailures {
				step = &FlowStep{Stage: "done", Error: "Too many wrong verification codes: sign in again from the application."}
				return tx.DeleteObject(ctx, KindSignInFlow, f.ID)
			}
			step = &FlowStep{Stage: f.Stage, Error: "The verification code is wrong, expired or already used. Enter the code your authenticator app shows now.", Username: rec.UserPrincipalName}
			if f.Stage == "enrol" {
				step.EnrolSecret, step.EnrolURI = totpEncoding.EncodeToString(secret), totpURI(secret, "mlgov", rec.UserPrincipalName)
			}
			return putFlow(ctx, tx, f)
		}
		s.attempts.succeed(ck, "")
		if f.Stage == "enrol" {
			sealed, err := s.sealSecret(secret, "totp/"+userKey(rec.TenantID, rec.ObjectID))
			if err != nil {
				return err
			}
			id, err := uuid.NewFrom(s.cfg.Rand)
			if err != nil {
				return err
			}
			rec.TOTP = &totpRecord{ID: id, Secret: sealed, CreatedAt: now}
		}
		rec.TOTP.LastStep = st
		si = nil
		if step, err = s.finishFlow(ctx, tx, f, rec, true, addr, corr, now); err != nil {
			return err
		}
		return tx.DeleteObject(ctx, KindSignInFlow, f.ID)
	})
	if si != nil {
		if lerr := s.logSignInRecord(ctx, si); lerr != nil {
			return nil, lerr
		}
	}
	s.invalidateUser(tid, oid)
	if err != nil {
		return nil, err
	}
	return s.fillStep(step, flowID, tid), nil
}

// finishFlow ends a flow whose factors are done (or which conditional
// access blocks): it logs the sign-in, and makes or refreshes the
// session and then the authorization code or the device code's approval.
// The user record is written (the caller's transaction).
func (s *Service) finishFlow(ctx context.Context, tx store.Tx, f *flowRecord, rec *userRecord, mfa bool, addr, corr string, now time.Time) (*FlowStep, error) {
	si := s.interactiveSignIn(f, rec, rec.UserPrincipalName, addr, corr, now)
	applied := satisfyMFA(f.Applied, mfa)
	anyMFA := slices.ContainsFunc(applied, func(a AppliedPolicy) bool { return slices.Contains(a.EnforcedGrantControls, "mfa") })
	blocked := slices.ContainsFunc(applied, func(a AppliedPolicy) bool { return a.Result == "failure" })
	if mfa || anyMFA {
		si.AuthenticationRequirement = "multiFactorAuthentication"
	}
	if oe := si.recordCA(applied, blocked, false); oe != nil {
		si.Status = SignInStatus{ErrorCode: oe.AADSTS, FailureReason: clip(oe.Description)}
		if err := s.logSignInTx(ctx, tx, si); err != nil {
			return nil, err
		}
		if f.UserCode != "" {
			d, err := getDevice(ctx, tx, f.UserCode)
			if err != nil {
				return nil, err
			}
			if d != nil && d.Status == "pending" {
				d.Status, d.Reason = "declined", fmt.Sprintf("AADSTS%d: %s", oe.AADSTS, oe.Description)
				if err := putJSON(ctx, tx, KindDeviceCode, d.UserCode, d); err != nil {
					return nil, err
				}
			}
			return &FlowStep{Stage: "done", Error: fmt.Sprintf("AADSTS%d: %s", oe.AADSTS, oe.Description)}, nil
		}
		return &FlowStep{Stage: "done", Error: oe.Description, Redirect: redirectWith(f.RedirectURI, f.ResponseMode, url.Values{"error": {"access_denied"},
			"error_description": {fmt.Sprintf("AADSTS%d: %s", oe.AADSTS, oe.Description)}, "state": {f.State}})}, nil
	}
	amr := []string{"pwd"}
	if mfa {
		amr = append(amr, "mfa")
	}
	step := &FlowStep{Stage: "done"}
	ss := rec.session(f.SessionID, now)
	if ss == nil {
		var err error
		if ss, err = s.newSession(rec, amr, now); err != nil {
			return nil, err
		}
	} else if mfa && !ss.mfa() {
		ss.AMR = amr
	}
	ss.LastUsed = now
	if f.UserCode == "" {
		cookie, err := s.newBrowserCookie(rec, ss)
		if err != nil {
			return nil, err
		}
		step.Cookie = cookie
		code, err := randomID(s.cfg.Rand, 32)
		if err != nil {
			return nil, err
		}
		c := codeRecord{TenantID: f.TenantID, Client: f.Client, RedirectURI: f.RedirectURI, Challenge: f.CodeChallenge, Scope: f.Scope,
			Nonce: f.Nonce, UserID: rec.ObjectID, SessionID: ss.ID, Expires: now.Add(flowLifetime)}
		if err := s.gcExpired(ctx, tx, KindAuthCode, now); err != nil {
			return nil, err
		}
		if err := putJSON(ctx, tx, KindAuthCode, codeKey(code), c); err != nil {
			return nil, err
		}
		step.Redirect = redirectWith(f.RedirectURI, f.ResponseMode, url.Values{"code": {code}, "state": {f.State}, "session_state": {ss.ID}})
	} else {
		d, err := getDevice(ctx, tx, f.UserCode)
		if err != nil {
			return nil, err
		}
		if d == nil || d.Status != "pending" || now.After(d.Expires) {
			return nil, flowErr(70020, "The code expired or was used; start again on the device.")
		}
		d.Status, d.UserID, d.SessionID = "approved", rec.ObjectID, ss.ID
		if err := putJSON(ctx, tx, KindDeviceCode, d.UserCode, d); err != nil {
			return nil, err
		}
	}
	// The callers invalidate the principal cache after their commit.
	if err := putUser(ctx, tx, rec, now); err != nil {
		return nil, err
	}
	return step, s.logSignInTx(ctx, tx, si)
}

// satisfyMFA marks the policies requiring MFA as satisfied when it was
// done.
func satisfyMFA(applied []AppliedPolicy, mfa bool) []AppliedPolicy {
	out := slices.Clone(applied)
	for i, a := range out {
		if !mfa || !slices.Contains(a.EnforcedGrantControls, "mfa") {
			continue
		}
		switch a.Result {
		case "failure":
			out[i].Result = "success"
		case "reportOnlyFailure":
			out[i].Result = "reportOnlySuccess"
		}
	}
	return out
}

// logSignInTx logs a sign-in made inside a store transaction: the group
// commit of logSignIn would wait on the transaction, so the record is
// appended in it.
func (s *Service) logSignInTx(ctx context.Context, tx store.Tx, si *SignIn) error {
	id, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return err
	}
	si.ID = id
	ev, err := si.event()
	if err != nil {
		return err
	}
	return tx.AppendEvents(ctx, ev)
}

// logSignInRecord gives a sign-in its id and logs it.
func (s *Service) logSignInRecord(ctx context.Context, si *SignIn) error {
	id, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return err
	}
	si.ID = id
	return s.logSignIn(ctx, si)
}

// codeRecord is an authorization code.
type codeRecord struct {
	TenantID    string    `json:"tenantId"`
	Client      string    `json:"clientId"`
	RedirectURI string    `json:"redirectUri"`
	Challenge   string    `json:"codeChallenge"`
	Scope       string    `json:"scope"`
	Nonce       string    `json:"nonce,omitempty"`
	UserID      string    `json:"userId"`
	SessionID   string    `json:"sessionId"`
	Expires     time.Time `json:"expires"`
	Redeemed    bool      `json:"redeemed,omitempty"`
}

func codeKey(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

func putJSON(ctx context.Context, tx store.Tx, kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.PutObject(ctx, &store.Object{Kind: kind, Key: key, Body: b, UpdatedAt: time.Now().UTC()})
}

// pkceS256 is the S256 challenge of a verifier.
func pkceS256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// LogoutRedirectAllowed reports whether sign-out may send the browser to
// uri: a redirect URI of the client (as for its authorization requests).
func (s *Service) LogoutRedirectAllowed(ctx context.Context, tenantID, clientID, uri string) (bool, error) {
	if clientID == "" {
		return false, nil
	}
	var ok bool
	err := s.st.Read(ctx, func(tx store.Tx) error {
		name, app, err := s.publicClient(ctx, tx, strings.ToLower(tenantID), clientID)
		ok = err == nil && name != "" && redirectAllowed(app, uri)
		return err
	})
	return ok, err
}
