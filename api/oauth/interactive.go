package oauth

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/mlgov/mlgov/authn"
)

// Interactive sign-in over HTTP: the authorization endpoint and the
// device verification page render the steps of authn's flows as HTML
// forms (password, TOTP code, authenticator enrolment), and end with a
// redirect to the client (code flow) or a page saying the device is
// signed in. The browser keeps two cookies: the flow's binding (which
// only it can present to continue the flow) and, after a sign-in, its
// session (single sign-on for later authorization requests of the same
// tenant until sign-out). Both are HttpOnly, Secure and SameSite=Lax.
//
//	GET  /{tenant}/oauth2/v2.0/authorize   authorization request (code + PKCE)
//	POST /oauth2/flow                      a step of a flow (password, code)
//	POST /{tenant}/oauth2/v2.0/devicecode  device authorization (RFC 8628)
//	GET  /devicelogin                      verification page (?code= prefills)
//	POST /devicelogin                      the user code typed there
//	GET  /{tenant}/oauth2/v2.0/logout      sign-out (end_session_endpoint)
//	POST /{tenant}/oauth2/v2.0/revoke      refresh token revocation (RFC 7009)

// Paths of the interactive endpoints.
const (
	PatternAuthorize  = "GET /{tenant}/oauth2/v2.0/authorize"
	PatternFlow       = "POST /oauth2/flow"
	PatternDeviceCode = "POST /{tenant}/oauth2/v2.0/devicecode"
	PatternDeviceGET  = "GET /devicelogin"
	PatternDevicePOST = "POST /devicelogin"
	PatternLogout     = "GET /{tenant}/oauth2/v2.0/logout"
	PatternLogoutPOST = "POST /{tenant}/oauth2/v2.0/logout"
	PatternRevoke     = "POST /{tenant}/oauth2/v2.0/revoke"
)

// Interactive is what the interactive endpoints need of *authn.Service.
type Interactive interface {
	StartAuthorize(ctx context.Context, r authn.AuthorizeRequest) (*authn.FlowStep, error)
	StartDevice(ctx context.Context, userCode, cookie, addr, corr string) (*authn.FlowStep, error)
	TenantOfUserCode(ctx context.Context, userCode string) (string, error)
	FlowPassword(ctx context.Context, flowID, binding, username, password, addr, corr string) (*authn.FlowStep, error)
	FlowTOTP(ctx context.Context, flowID, binding, code, addr, corr string) (*authn.FlowStep, error)
	DeviceAuthorization(ctx context.Context, tenantID, clientID, scope string) (*authn.DeviceCode, error)
	CodeGrant(ctx context.Context, r authn.GrantRequest) (*authn.UserTokens, error)
	DeviceGrant(ctx context.Context, r authn.GrantRequest) (*authn.UserTokens, error)
	RefreshGrant(ctx context.Context, r authn.GrantRequest) (*authn.UserTokens, error)
	RevokeRefreshToken(ctx context.Context, tenantID, token string) error
	EndBrowserSession(ctx context.Context, tenantID, cookie string) error
	LogoutRedirectAllowed(ctx context.Context, tenantID, clientID, uri string) (bool, error)
}

var _ Interactive = (*authn.Service)(nil)

func (h *Handler) registerInteractive(mux *http.ServeMux) {
	mux.HandleFunc(PatternAuthorize, h.authorize)
	mux.HandleFunc(PatternFlow, h.flowStep)
	mux.HandleFunc(PatternDeviceCode, h.deviceCode)
	mux.HandleFunc(PatternDeviceGET, h.devicePage)
	mux.HandleFunc(PatternDevicePOST, h.deviceEntered)
	mux.HandleFunc(PatternLogout, h.logout)
	mux.HandleFunc(PatternLogoutPOST, h.logout)
	mux.HandleFunc(PatternRevoke, h.revoke)
}

const flowCookiePrefix = "mlgov_flow_"

func sessionCookieName(tenantID string) string { return "mlgov_session_" + strings.ToLower(tenantID) }

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

// flowCookie names the binding cookie of a flow (one per flow, so that
// two sign-ins in one browser do not collide).
func flowCookie(flowID string) string {
	if len(flowID) > 16 {
		flowID = flowID[:16]
	}
	return flowCookiePrefix + flowID
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tenant := r.PathValue("tenant")
	step, err := h.ia.StartAuthorize(r.Context(), authn.AuthorizeRequest{TenantID: tenant, ClientID: q.Get("client_id"),
		ResponseType: q.Get("response_type"), RedirectURI: q.Get("redirect_uri"), Scope: q.Get("scope"), State: q.Get("state"),
		Nonce: q.Get("nonce"), CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
		ResponseMode: q.Get("response_mode"), Prompt: q.Get("prompt"), Cookie: cookieValue(r, sessionCookieName(tenant)),
		ClientAddress: clientAddress(r), CorrelationID: correlationID(r)})
	h.renderStep(w, r, step, err)
}

// pageForm reads a sign-in page's posted form (bounded); false when it
// answered an error page.
func (h *Handler) pageForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.page(w, http.StatusBadRequest, pageData{Title: "Sign-in failed", Error: "The form could not be read."})
		return false
	}
	return true
}

// flowStep takes a posted step: the password, or a verification code.
func (h *Handler) flowStep(w http.ResponseWriter, r *http.Request) {
	if !h.pageForm(w, r) {
		return
	}
	id := r.PostForm.Get("flow")
	binding := cookieValue(r, flowCookie(id))
	var step *authn.FlowStep
	var err error
	switch r.PostForm.Get("stage") {
	case "password":
		step, err = h.ia.FlowPassword(r.Context(), id, binding, r.PostForm.Get("username"), r.PostForm.Get("password"), clientAddress(r), correlationID(r))
	case "mfa", "enrol":
		step, err = h.ia.FlowTOTP(r.Context(), id, binding, r.PostForm.Get("otc"), clientAddress(r), correlationID(r))
	default:
		h.page(w, http.StatusBadRequest, pageData{Title: "Sign-in failed", Error: "The form names no sign-in step."})
		return
	}
	h.renderStep(w, r, step, err)
}

// renderStep answers a flow step: a page, or the redirect of a finished
// code flow.
func (h *Handler) renderStep(w http.ResponseWriter, r *http.Request, step *authn.FlowStep, err error) {
	var fe *authn.FlowError
	switch {
	case errors.As(err, &fe):
		h.page(w, http.StatusBadRequest, pageData{Title: "Sign-in failed", Error: fe.Error()})
		return
	case err != nil:
		h.cfg.Logger.ErrorContext(r.Context(), "oauth: sign-in flow", "err", err)
		h.page(w, http.StatusInternalServerError, pageData{Title: "Sign-in failed", Error: "An internal error occurred. Please try again."})
		return
	}
	if step.Binding != "" {
		h.setCookie(w, flowCookie(step.FlowID), step.Binding, 900)
	}
	if step.Stage != "done" {
		h.page(w, http.StatusOK, pageData{Title: "Sign in", Stage: step.Stage, Flow: step.FlowID, Error: step.Error,
			Client: step.ClientName, Resource: step.Resource, Username: step.Username, Secret: step.EnrolSecret, URI: step.EnrolURI})
		return
	}
	h.setCookie(w, flowCookie(step.FlowID), "", -1)
	if step.Cookie != "" && step.TenantID != "" {
		h.setCookie(w, sessionCookieName(step.TenantID), step.Cookie, 0)
	}
	if step.Redirect != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, step.Redirect, http.StatusFound)
		return
	}
	if step.Error != "" {
		h.page(w, http.StatusForbidden, pageData{Title: "Sign-in refused", Error: step.Error})
		return
	}
	h.page(w, http.StatusOK, pageData{Title: "Signed in", Done: true})
}

// deviceAuthResponse is Entra's device authorization response.
type deviceAuthResponse struct {
	UserCode        string `json:"user_code"`
	DeviceCode      string `json:"device_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int64  `json:"expires_in"`
	Interval        int64  `json:"interval"`
	Message         string `json:"message"`
}

func (h *Handler) deviceCode(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store, no-cache")
	t, form, ok := h.tenantForm(w, r)
	if !ok {
		return
	}
	dc, err := h.ia.DeviceAuthorization(r.Context(), t.ID, form.Get("client_id"), form.Get("scope"))
	if h.grantError(w, r, err, false) {
		return
	}
	uri := h.base + "/devicelogin"
	writeJSON(w, http.StatusOK, deviceAuthResponse{UserCode: dc.UserCode, DeviceCode: dc.DeviceCode, VerificationURI: uri, ExpiresIn: dc.ExpiresIn, Interval: dc.Interval,
		Message: "To sign in, use a web browser to open the page " + uri + " and enter the code " + dc.UserCode + " to authenticate."})
}

func (h *Handler) devicePage(w http.ResponseWriter, r *http.Request) {
	h.page(w, http.StatusOK, pageData{Title: "Enter code", Stage: "device", UserCode: r.URL.Query().Get("code")})
}

func (h *Handler) deviceEntered(w http.ResponseWriter, r *http.Request) {
	if !h.pageForm(w, r) {
		return
	}
	code := r.PostForm.Get("code")
	tenant, err := h.ia.TenantOfUserCode(r.Context(), code)
	if err != nil {
		h.renderStep(w, r, nil, err)
		return
	}
	cookie := ""
	if tenant != "" {
		cookie = cookieValue(r, sessionCookieName(tenant))
	}
	step, err := h.ia.StartDevice(r.Context(), code, cookie, clientAddress(r), correlationID(r))
	h.renderStep(w, r, step, err)
}

// logout ends the browser's session of the tenant, then redirects to
// post_logout_redirect_uri when it is a redirect URI of client_id, or
// shows that the user is signed out.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if c := cookieValue(r, sessionCookieName(tenant)); c != "" {
		if err := h.ia.EndBrowserSession(r.Context(), tenant, c); err != nil {
			h.renderStep(w, r, nil, err)
			return
		}
	}
	h.setCookie(w, sessionCookieName(tenant), "", -1)
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if r.ParseForm() == nil {
			q = r.Form
		}
	}
	if uri := q.Get("post_logout_redirect_uri"); uri != "" {
		ok, err := h.ia.LogoutRedirectAllowed(r.Context(), tenant, q.Get("client_id"), uri)
		if err != nil {
			h.renderStep(w, r, nil, err)
			return
		}
		if ok {
			target := uri
			if st := q.Get("state"); st != "" {
				target = uri + map[bool]string{true: "&", false: "?"}[strings.Contains(uri, "?")] + url.Values{"state": {st}}.Encode()
			}
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
	}
	h.page(w, http.StatusOK, pageData{Title: "Signed out", SignedOut: true})
}

// revoke is RFC 7009's revocation endpoint for refresh tokens: 200
// whether or not the token named a session.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	t, form, ok := h.tenantForm(w, r)
	if !ok {
		return
	}
	if form.Get("token") == "" {
		h.oauthError(w, r, authn.MissingParameter("token"), false)
		return
	}
	if hint := form.Get("token_type_hint"); hint != "" && hint != "refresh_token" {
		h.oauthError(w, r, &authn.OAuthError{Code: "unsupported_token_type", AADSTS: 900144, Description: "Only refresh tokens are revoked here; access tokens end with their session."}, false)
		return
	}
	if err := h.ia.RevokeRefreshToken(r.Context(), t.ID, form.Get("token")); err != nil {
		h.internal(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// userTokenResponse is Entra's token response of a user's grant.
type userTokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// userGrant runs the token endpoint's interactive grants.
func (h *Handler) userGrant(w http.ResponseWriter, r *http.Request, t *authn.Tenant, grant string, form url.Values) {
	req := authn.GrantRequest{TenantID: t.ID, ClientID: form.Get("client_id"), Scope: form.Get("scope"), Code: form.Get("code"),
		RedirectURI: form.Get("redirect_uri"), CodeVerifier: form.Get("code_verifier"), DeviceCode: form.Get("device_code"),
		RefreshToken: form.Get("refresh_token"), ClientAddress: clientAddress(r), CorrelationID: correlationID(r)}
	if form.Get("client_secret") != "" || form.Get("client_assertion") != "" || r.Header.Get("Authorization") != "" {
		h.oauthError(w, r, &authn.OAuthError{Code: "invalid_request", AADSTS: 700025, Description: "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."}, false)
		return
	}
	var tok *authn.UserTokens
	var err error
	switch grant {
	case "authorization_code":
		tok, err = h.ia.CodeGrant(r.Context(), req)
	case "refresh_token":
		tok, err = h.ia.RefreshGrant(r.Context(), req)
	default:
		tok, err = h.ia.DeviceGrant(r.Context(), req)
	}
	if h.grantError(w, r, err, false) {
		return
	}
	out := userTokenResponse{TokenType: tok.TokenType, Scope: tok.Scope, ExpiresIn: tok.ExpiresIn, ExtExpiresIn: tok.ExpiresIn,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, IDToken: tok.IDToken}
	if form.Get("client_info") == "1" {
		out.ClientInfo = tok.ClientInfo
	}
	writeJSON(w, http.StatusOK, out)
}

type pageData struct {
	Title, Stage, Flow, Error  string
	Client, Resource, Username string
	Secret, URI, UserCode      string
	Done, SignedOut            bool
}

// page renders a sign-in page. Pages are never cached or framed, and run
// no script.
func (h *Handler) page(w http.ResponseWriter, status int, d pageData) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := pages.Execute(w, d); err != nil {
		h.cfg.Logger.Error("oauth: rendering a sign-in page", "err", err)
	}
}

var pages = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · mlgov</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1.2rem}.error{color:#a4262c}code{word-break:break-all}</style></head>
<body><h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
{{if eq .Stage "password"}}
<p>Sign in to <b>{{.Client}}</b>{{if .Resource}} for {{.Resource}}{{end}}.</p>
<form method="post" action="/oauth2/flow">
<input type="hidden" name="flow" value="{{.Flow}}"><input type="hidden" name="stage" value="password">
<label for="username">User name</label><input id="username" name="username" type="email" autocomplete="username" value="{{.Username}}" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="next">Sign in</button></form>
{{else if eq .Stage "mfa"}}
<p>{{.Username}}: enter the code your authenticator app shows.</p>
<form method="post" action="/oauth2/flow">
<input type="hidden" name="flow" value="{{.Flow}}"><input type="hidden" name="stage" value="mfa">
<label for="otc">Verification code</label><input id="otc" name="otc" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" required>
<button type="submit" id="next">Verify</button></form>
{{else if eq .Stage "enrol"}}
<p>Your organization requires more information: {{.Username}} needs an authenticator app for multifactor authentication.</p>
<p>Add an account to your authenticator app with this key, then enter the code it shows.</p>
<p>Key: <code id="secret">{{.Secret}}</code></p>
<p>Or the link: <code id="otpauth">{{.URI}}</code></p>
<form method="post" action="/oauth2/flow">
<input type="hidden" name="flow" value="{{.Flow}}"><input type="hidden" name="stage" value="enrol">
<label for="otc">Verification code</label><input id="otc" name="otc" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" required>
<button type="submit" id="next">Verify</button></form>
{{else if eq .Stage "device"}}
<p>Enter the code shown on your device to sign it in.</p>
<form method="post" action="/devicelogin">
<label for="code">Code</label><input id="code" name="code" value="{{.UserCode}}" autocomplete="off" required>
<button type="submit" id="next">Next</button></form>
{{else if .Done}}<p id="done">You have signed in. You may close this window and return to the application.</p>
{{else if .SignedOut}}<p id="signedout">You have signed out. You may close this window.</p>
{{end}}
</body></html>
`))
