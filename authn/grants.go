package authn

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// The token endpoint's grants of interactive sign-in: the authorization
// code (with its PKCE verifier), the device code (polled until a user
// approves it on the verification page) and the refresh token. Each
// issues an access token of the session (its credential is the session
// id), a new refresh token when offline_access was asked for (the one
// presented dies), and an ID token when openid was.

// deviceRecord is a device code.
type deviceRecord struct {
	UserCode   string    `json:"userCode"`
	TenantID   string    `json:"tenantId"`
	Client     string    `json:"clientId"`
	ClientName string    `json:"clientName"`
	Scope      string    `json:"scope"`
	Audience   string    `json:"audience"`
	Secret     []byte    `json:"secret"` // SHA-256 of the device code's secret part
	Expires    time.Time `json:"expires"`
	// Status: pending, approved (UserID, SessionID), declined (the
	// sign-in was refused: Reason) or redeemed.
	Status    string `json:"status"`
	UserID    string `json:"userId,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	// Reason is why a declined sign-in was refused.
	Reason string `json:"reason,omitempty"`
}

func getDevice(ctx context.Context, tx store.Tx, userCode string) (*deviceRecord, error) {
	o, err := tx.GetObject(ctx, KindDeviceCode, normalUserCode(userCode))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var d deviceRecord
	return &d, json.Unmarshal(o.Body, &d)
}

// normalUserCode upper-cases a user code and drops spaces and dashes.
func normalUserCode(c string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(c)))
}

// DeviceCode is the answer of the device authorization endpoint.
type DeviceCode struct {
	DeviceCode string
	UserCode   string
	ExpiresIn  int64
	Interval   int64
}

// DeviceAuthorization starts a device code flow for a public client
// (RFC 8628 §3.1).
func (s *Service) DeviceAuthorization(ctx context.Context, tenantID, clientID, scope string) (*DeviceCode, error) {
	tenantID = strings.ToLower(tenantID)
	now := s.now()
	if !uuid.Valid(tenantID) {
		return nil, TenantNotFound("invalid_request", tenantID)
	}
	if clientID == "" {
		return nil, MissingParameter("client_id")
	}
	aud, _, _, _, oe := delegatedScope(scope, tenantID)
	if oe != nil {
		return nil, oe
	}
	code, err := s.userCode()
	if err != nil {
		return nil, err
	}
	secret, err := randomID(s.cfg.Rand, 32)
	if err != nil {
		return nil, err
	}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return TenantNotFound("invalid_request", tenantID)
			}
			return err
		}
		name, app, err := s.publicClient(ctx, tx, tenantID, clientID)
		if err != nil {
			return err
		}
		if name == "" || (app != nil && !app.PublicClient) {
			return oauthErr("unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s', or it does not allow public client flows (isFallbackPublicClient).", clip(clientID), tenantID)
		}
		if err := s.gcExpired(ctx, tx, KindDeviceCode, now); err != nil {
			return err
		}
		return putJSON(ctx, tx, KindDeviceCode, code, &deviceRecord{UserCode: code, TenantID: tenantID, Client: strings.ToLower(clientID),
			ClientName: name, Scope: scope, Audience: aud, Secret: tokenHash(secret), Expires: now.Add(deviceCodeLifetime), Status: "pending"})
	})
	if err != nil {
		return nil, err
	}
	return &DeviceCode{DeviceCode: code + "." + secret, UserCode: code, ExpiresIn: int64(deviceCodeLifetime / time.Second), Interval: int64(DevicePollInterval / time.Second)}, nil
}

func (s *Service) userCode() (string, error) {
	b := make([]byte, userCodeLen)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return "", fmt.Errorf("authn: random: %w", err)
	}
	for i := range b {
		b[i] = userCodeAlphabet[int(b[i])%len(userCodeAlphabet)]
	}
	return string(b), nil
}

// StartDevice begins the sign-in that approves a device code (the
// verification page, after the user typed the code).
func (s *Service) StartDevice(ctx context.Context, userCode, cookie, addr, corr string) (*FlowStep, error) {
	now := s.now()
	var d *deviceRecord
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		d, err = getDevice(ctx, tx, userCode)
		return err
	})
	if err != nil {
		return nil, err
	}
	if d == nil || d.Status != "pending" || now.After(d.Expires) {
		return nil, flowErr(70020, "The code you entered is not valid, expired or was used. Check it, or start again on the device.")
	}
	f := &flowRecord{TenantID: d.TenantID, Client: d.Client, ClientName: d.ClientName, Scope: d.Scope, Audience: d.Audience, UserCode: d.UserCode, Stage: "password"}
	return s.startFlow(ctx, f, cookie, "", addr, corr, now)
}

// TenantOfUserCode returns the tenant of a pending user code ("" when
// there is none), for the verification page's session cookie.
func (s *Service) TenantOfUserCode(ctx context.Context, userCode string) (string, error) {
	var tid string
	err := s.st.Read(ctx, func(tx store.Tx) error {
		d, err := getDevice(ctx, tx, userCode)
		if d != nil {
			tid = d.TenantID
		}
		return err
	})
	return tid, err
}

// UserTokens are the tokens of a user's grant.
type UserTokens struct {
	*Token
	RefreshToken string
	IDToken      string
	ClientInfo   string
	// Scope is the scope granted (the resource's scopes asked for).
	Scope string
}

// GrantRequest is a token request of an interactive grant.
type GrantRequest struct {
	TenantID, ClientID, Scope string
	// Code, RedirectURI and CodeVerifier: authorization_code.
	Code, RedirectURI, CodeVerifier string
	// DeviceCode: the device code grant.
	DeviceCode string
	// RefreshToken: refresh_token.
	RefreshToken                 string
	ClientAddress, CorrelationID string
}

// CodeGrant redeems an authorization code. A code redeemed twice ends
// the session it made (RFC 6749 §4.1.2).
func (s *Service) CodeGrant(ctx context.Context, r GrantRequest) (*UserTokens, error) {
	tenantID := strings.ToLower(r.TenantID)
	now := s.now()
	switch {
	case r.Code == "":
		return nil, MissingParameter("code")
	case r.ClientID == "":
		return nil, MissingParameter("client_id")
	case r.RedirectURI == "":
		return nil, MissingParameter("redirect_uri")
	case r.CodeVerifier == "":
		return nil, oauthErr("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request: the request must contain code_verifier.")
	}
	key, err := s.activeKey(ctx) // before the write: it may read the store
	if err != nil {
		return nil, err
	}
	var out *UserTokens
	var kept *OAuthError
	var tid, oid string
	err = s.st.Write(ctx, func(tx store.Tx) error {
		out, kept = nil, nil
		o, err := tx.GetObject(ctx, KindAuthCode, codeKey(r.Code))
		if errors.Is(err, store.ErrNotFound) {
			return oauthErr("invalid_grant", 70008, "The provided authorization code is invalid or has expired.")
		} else if err != nil {
			return err
		}
		var c codeRecord
		if err := json.Unmarshal(o.Body, &c); err != nil {
			return err
		}
		tid, oid = c.TenantID, c.UserID
		switch {
		case c.TenantID != tenantID || now.After(c.Expires):
			return oauthErr("invalid_grant", 70008, "The provided authorization code is invalid or has expired.")
		case c.Redeemed:
			if rec, err := getUser(ctx, tx, c.TenantID, c.UserID); err == nil && rec != nil && rec.endSession(c.SessionID) {
				if err := putUser(ctx, tx, rec, now); err != nil {
					return err
				}
			}
			kept = oauthErr("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed; the session it made has been ended. Sign in again.")
			return nil
		case !strings.EqualFold(c.Client, r.ClientID):
			return oauthErr("invalid_grant", 70000, "The authorization code was issued to another client.")
		case c.RedirectURI != r.RedirectURI:
			return oauthErr("invalid_grant", 50148, "The redirect_uri does not match the redirect URI of the authorization request.")
		case subtle.ConstantTimeCompare([]byte(pkceS256(r.CodeVerifier)), []byte(c.Challenge)) != 1:
			return oauthErr("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		}
		c.Redeemed = true
		if err := putJSON(ctx, tx, KindAuthCode, o.Key, c); err != nil {
			return err
		}
		scope := r.Scope
		if scope == "" {
			scope = c.Scope
		}
		out, err = s.sessionTokens(ctx, tx, key, c.TenantID, c.UserID, c.SessionID, c.Client, scope, c.Nonce, r.ClientAddress, now)
		return err
	})
	s.invalidateUser(tid, oid)
	return out, keptErr(err, kept)
}

// keptErr returns err, or kept: the refusal of a transaction that
// committed what it wrote (the session it ended stays ended).
func keptErr(err error, kept *OAuthError) error {
	if err == nil && kept != nil {
		return kept
	}
	return err
}

// DeviceGrant redeems a device code (RFC 8628 §3.4): pending until the
// user approves it (authorization_pending), single use.
func (s *Service) DeviceGrant(ctx context.Context, r GrantRequest) (*UserTokens, error) {
	tenantID := strings.ToLower(r.TenantID)
	now := s.now()
	if r.DeviceCode == "" {
		return nil, MissingParameter("device_code")
	}
	user, secret, _ := strings.Cut(r.DeviceCode, ".")
	key, err := s.activeKey(ctx) // before the write: it may read the store
	if err != nil {
		return nil, err
	}
	var out *UserTokens
	var oid string
	err = s.st.Write(ctx, func(tx store.Tx) error {
		out = nil
		d, err := getDevice(ctx, tx, user)
		if err != nil {
			return err
		}
		switch {
		case d == nil || d.TenantID != tenantID || !sameHash(d.Secret, tokenHash(secret)) || !strings.EqualFold(d.Client, r.ClientID):
			return oauthErr("invalid_grant", 70000, "The device code is not valid for this client.")
		case now.After(d.Expires):
			return oauthErr("expired_token", 70020, "The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
		case d.Status == "pending":
			return oauthErr("authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
		case d.Status == "declined":
			return oauthErr("authorization_declined", 53003, "The sign-in on the verification page was refused: %s", d.Reason)
		case d.Status != "approved":
			return oauthErr("invalid_grant", 70000, "The device code was already redeemed.")
		}
		d.Status, oid = "redeemed", d.UserID
		if err := putJSON(ctx, tx, KindDeviceCode, d.UserCode, d); err != nil {
			return err
		}
		out, err = s.sessionTokens(ctx, tx, key, d.TenantID, d.UserID, d.SessionID, d.Client, d.Scope, "", r.ClientAddress, now)
		return err
	})
	s.invalidateUser(tenantID, oid)
	return out, err
}

// RefreshGrant redeems a refresh token (for any resource: conditional
// access is evaluated for it, and a policy requiring MFA the session
// has not done is AADSTS50076).
func (s *Service) RefreshGrant(ctx context.Context, r GrantRequest) (*UserTokens, error) {
	tenantID := strings.ToLower(r.TenantID)
	now := s.now()
	if r.RefreshToken == "" {
		return nil, MissingParameter("refresh_token")
	}
	if r.ClientID == "" {
		return nil, MissingParameter("client_id")
	}
	tid, oid, sid, secret, ok := parseRefreshToken(r.RefreshToken)
	if !ok || tid != tenantID {
		return nil, oauthErr("invalid_grant", 9002313, "Invalid request. The refresh token is malformed or not of this tenant.")
	}
	key, err := s.activeKey(ctx) // before the write: it may read the store
	if err != nil {
		return nil, err
	}
	var out *UserTokens
	var kept *OAuthError
	err = s.st.Write(ctx, func(tx store.Tx) error {
		out, kept = nil, nil
		rec, err := getUser(ctx, tx, tid, oid)
		if err != nil {
			return err
		}
		var ss *sessionRecord
		if rec != nil {
			ss = rec.session(sid, now)
		}
		if ss == nil || rec.Disabled {
			return oauthErr("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password, signed out, or been disabled.")
		}
		st := ss.Refresh[strings.ToLower(r.ClientID)]
		h := tokenHash(secret)
		switch {
		case st != nil && sameHash(st.Current, h):
		case st != nil && sameHash(st.Previous, h):
			rec.endSession(sid)
			if err := putUser(ctx, tx, rec, now); err != nil {
				return err
			}
			kept = oauthErr("invalid_grant", 50173, "The refresh token was already used: it is replaced at each use, and a replaced one presented again ends the session (it may have been stolen). Sign in again.")
			return nil
		default:
			return oauthErr("invalid_grant", 9002313, "Invalid request. The refresh token is not valid for this client.")
		}
		scope := r.Scope
		if scope == "" {
			scope = st.Scope
		}
		out, err = s.sessionTokens(ctx, tx, key, tid, oid, sid, r.ClientID, scope, "", r.ClientAddress, now)
		return err
	})
	s.invalidateUser(tid, oid)
	return out, keptErr(err, kept)
}

// sessionTokens issues the tokens of a session for a client and scope,
// after checking the user and conditional access for the resource.
func (s *Service) sessionTokens(ctx context.Context, tx store.Tx, key *signingKey, tenantID, oid, sid, clientID, scope, nonce, addr string, now time.Time) (*UserTokens, error) {
	aud, resource, openid, offline, oe := delegatedScope(scope, tenantID)
	if oe != nil {
		return nil, oe
	}
	rec, err := getUser(ctx, tx, tenantID, oid)
	if err != nil {
		return nil, err
	}
	var ss *sessionRecord
	if rec != nil {
		ss = rec.session(sid, now)
	}
	if ss == nil || rec.Disabled {
		return nil, oauthErr("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password, signed out, or been disabled.")
	}
	_, blocked, mfa, err := evaluateUserTx(ctx, tx, tenantID, oid, aud, addr)
	if err != nil {
		return nil, err
	}
	switch {
	case blocked:
		return nil, oauthErr("invalid_grant", 53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.")
	case mfa && !ss.mfa():
		return nil, oauthErr("invalid_grant", 50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '%s'. Sign in again interactively.", resourceApp(aud))
	}
	ss.LastUsed = now
	out := &UserTokens{Scope: strings.Join(resource, " ")}
	if out.Scope == "" {
		out.Scope = aud + "/.default"
	}
	name, _, err := s.publicClient(ctx, tx, tenantID, clientID)
	if err != nil {
		return nil, err
	}
	sp := &spRecord{TenantID: rec.TenantID, AppID: strings.ToLower(clientID), ObjectID: rec.ObjectID}
	if out.Token, err = s.issueWithKey(key, sp, &secretRecord{KeyID: ss.ID}, aud, now, func(c *accessClaims) {
		c.IDTyp, c.AppIDACR, c.AzpACR, c.AppDisplayName = "user", "0", "0", name
		c.UPN, c.UniqueName, c.Name, c.Scp, c.Amr = rec.UserPrincipalName, rec.UserPrincipalName, rec.DisplayName, "user_impersonation", slices.Clone(ss.AMR)
	}); err != nil {
		return nil, err
	}
	if offline {
		if out.RefreshToken, err = s.newRefreshToken(rec, ss, clientID, scope); err != nil {
			return nil, err
		}
	}
	if openid {
		if out.IDToken, err = s.idToken(key, rec, ss, clientID, nonce, now); err != nil {
			return nil, err
		}
		out.ClientInfo = clientInfo(rec.TenantID, rec.ObjectID)
	}
	// The caller invalidates the principal cache after its commit.
	if err := putUser(ctx, tx, rec, now); err != nil {
		return nil, err
	}
	return out, nil
}

// idClaims are an ID token's claims (Entra's v2 ID token).
type idClaims struct {
	Aud               string   `json:"aud"`
	Iss               string   `json:"iss"`
	Iat               int64    `json:"iat"`
	Nbf               int64    `json:"nbf"`
	Exp               int64    `json:"exp"`
	AuthTime          int64    `json:"auth_time"`
	Name              string   `json:"name"`
	Nonce             string   `json:"nonce,omitempty"`
	OID               string   `json:"oid"`
	PreferredUsername string   `json:"preferred_username"`
	SID               string   `json:"sid"`
	Sub               string   `json:"sub"`
	TID               string   `json:"tid"`
	Amr               []string `json:"amr"`
	Ver               string   `json:"ver"`
}

func (s *Service) idToken(key *signingKey, rec *userRecord, ss *sessionRecord, clientID, nonce string, now time.Time) (string, error) {
	return sign(key, idClaims{Aud: strings.ToLower(clientID), Iss: s.cfg.Issuer(rec.TenantID), Iat: now.Unix(), Nbf: now.Unix(),
		Exp: now.Add(s.cfg.TokenLifetime).Unix(), AuthTime: ss.AuthTime.Unix(), Name: rec.DisplayName, Nonce: nonce, OID: rec.ObjectID,
		PreferredUsername: rec.UserPrincipalName, SID: ss.ID, Sub: rec.ObjectID, TID: rec.TenantID, Amr: slices.Clone(ss.AMR), Ver: "2.0"})
}

// OathMethod is a user's authenticator app (Graph's
// softwareOathAuthenticationMethod; never its secret).
type OathMethod struct {
	ID        string
	CreatedAt time.Time
}

// SoftwareOathMethods lists a user's authenticator apps (none or one).
func (s *Service) SoftwareOathMethods(ctx context.Context, tenantID, idOrUPN string) ([]OathMethod, error) {
	var out []OathMethod
	err := s.st.Read(ctx, func(tx store.Tx) error {
		r, err := findUser(ctx, tx, tenantID, idOrUPN)
		if err == nil && r.TOTP != nil {
			out = append(out, OathMethod{ID: r.TOTP.ID, CreatedAt: r.TOTP.CreatedAt})
		}
		return err
	})
	return out, err
}

// DeleteSoftwareOathMethod removes a user's authenticator app: the next
// sign-in that needs MFA enrols a new one. The sessions that did MFA
// with it end.
func (s *Service) DeleteSoftwareOathMethod(ctx context.Context, tenantID, idOrUPN, methodID string) error {
	return s.changeUser(ctx, tenantID, idOrUPN, func(r *userRecord) error {
		if r.TOTP == nil || !strings.EqualFold(r.TOTP.ID, methodID) {
			return fmt.Errorf("authn: authentication method %q: %w", clip(methodID), store.ErrNotFound)
		}
		r.TOTP = nil
		r.Sessions = slices.DeleteFunc(r.Sessions, (*sessionRecord).mfa)
		return nil
	})
}
