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
	"unicode"

	"golang.org/x/crypto/argon2"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Users: directory members who sign in with a password (Graph's users,
// with passwordProfile). The password is kept as an Argon2id hash; a
// password change makes a new credential id (the mlgov_cred claim), so
// the tokens issued before it are refused. Users sign in with the
// resource owner password grant (as az login --username does); a
// conditional access policy that requires multifactor authentication
// refuses that grant (AADSTS50076), as Entra does.

// KindUser is the store object kind of users (key tenant/objectId).
const KindUser = "users"

// User is a user (never its password).
type User struct {
	TenantID          string    `json:"tenantId"`
	ObjectID          string    `json:"id"`
	UserPrincipalName string    `json:"userPrincipalName"`
	DisplayName       string    `json:"displayName"`
	MailNickname      string    `json:"mailNickname"`
	AccountEnabled    bool      `json:"accountEnabled"`
	CreatedAt         time.Time `json:"createdDateTime"`
}

type userRecord struct {
	User
	Disabled bool   `json:"disabled,omitempty"`
	Salt     []byte `json:"salt"`
	Hash     []byte `json:"hash"`
	// PasswordID changes with the password: the credential of the
	// user's tokens.
	PasswordID string `json:"passwordId"`
	// Sessions are the user's sign-in sessions (sessions.go).
	Sessions []*sessionRecord `json:"sessions,omitempty"`
	// TOTP is the user's authenticator app (totp.go), nil: none.
	TOTP *totpRecord `json:"totp,omitempty"`
}

// Argon2id parameters (RFC 9106's second recommended option, 64 MiB).
const (
	argonTime    = 3
	argonMemory  = 64 << 10
	argonThreads = 2
	argonKeyLen  = 32
)

func hashPassword(salt []byte, pw string) []byte {
	return argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
}

// ErrUserInvalid marks a user or password mlgov refuses (its message
// says why).
var ErrUserInvalid = errors.New("authn: invalid user")

// checkPassword applies Entra's password rules: 8 to 256 characters,
// three of lower case, upper case, digits and symbols.
func checkPassword(pw string) error {
	n := len([]rune(pw))
	if n < 8 || n > 256 {
		return fmt.Errorf("%w: a password has 8 to 256 characters", ErrUserInvalid)
	}
	var lower, upper, digit, symbol int
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			symbol = 1
		}
	}
	if lower+upper+digit+symbol < 3 {
		return fmt.Errorf("%w: a password has three of: lower-case letters, upper-case letters, digits, symbols", ErrUserInvalid)
	}
	return nil
}

func userKey(tenantID, oid string) string {
	return strings.ToLower(tenantID) + "/" + strings.ToLower(oid)
}

// CreateUser creates a user with a password.
func (s *Service) CreateUser(ctx context.Context, tenantID string, spec User, password string) (*User, error) {
	tenantID = strings.ToLower(tenantID)
	upn := strings.ToLower(strings.TrimSpace(spec.UserPrincipalName))
	if at := strings.IndexByte(upn, '@'); at < 1 || at == len(upn)-1 || strings.ContainsAny(upn, " /\\") {
		return nil, fmt.Errorf("%w: the userPrincipalName '%s' is not name@domain", ErrUserInvalid, clip(spec.UserPrincipalName))
	}
	if strings.TrimSpace(spec.DisplayName) == "" {
		return nil, fmt.Errorf("%w: a user needs a displayName", ErrUserInvalid)
	}
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	oid, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	rec := &userRecord{User: User{TenantID: tenantID, ObjectID: oid, UserPrincipalName: upn, DisplayName: spec.DisplayName,
		MailNickname: spec.MailNickname, AccountEnabled: true, CreatedAt: s.now()}}
	if err := s.setPassword(rec, password); err != nil {
		return nil, err
	}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); err != nil {
			return fmt.Errorf("authn: tenant %q: %w", tenantID, err)
		}
		users, err := listCA[userRecord](ctx, tx, KindUser, tenantID)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(users, func(u *userRecord) bool { return u.UserPrincipalName == upn }) {
			return fmt.Errorf("authn: the user %s exists: %w", upn, store.ErrConflict)
		}
		return putUser(ctx, tx, rec, s.now())
	})
	if err != nil {
		return nil, err
	}
	u := rec.public()
	return &u, nil
}

func (s *Service) setPassword(rec *userRecord, pw string) error {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(s.cfg.Rand, salt); err != nil {
		return err
	}
	id, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return err
	}
	rec.Salt, rec.Hash, rec.PasswordID = salt, hashPassword(salt, pw), id
	return nil
}

func (r *userRecord) public() User {
	u := r.User
	u.AccountEnabled = !r.Disabled
	return u
}

func putUser(ctx context.Context, tx store.Tx, rec *userRecord, now time.Time) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.PutObject(ctx, &store.Object{Kind: KindUser, Key: userKey(rec.TenantID, rec.ObjectID), Body: b, UpdatedAt: now})
}

// Users lists a tenant's users, by creation.
func (s *Service) Users(ctx context.Context, tenantID string) ([]User, error) {
	var out []User
	err := s.st.Read(ctx, func(tx store.Tx) error {
		recs, err := listCA[userRecord](ctx, tx, KindUser, tenantID)
		for _, r := range recs {
			out = append(out, r.public())
		}
		return err
	})
	slices.SortFunc(out, func(a, b User) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// findUser returns the user of an object id or user principal name.
func findUser(ctx context.Context, tx store.Tx, tenantID, idOrUPN string) (*userRecord, error) {
	if uuid.Valid(idOrUPN) {
		o, err := tx.GetObject(ctx, KindUser, userKey(tenantID, idOrUPN))
		if err == nil {
			var r userRecord
			return &r, json.Unmarshal(o.Body, &r)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	recs, err := listCA[userRecord](ctx, tx, KindUser, tenantID)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if strings.EqualFold(r.UserPrincipalName, idOrUPN) {
			return r, nil
		}
	}
	return nil, fmt.Errorf("authn: user %q: %w", clip(idOrUPN), store.ErrNotFound)
}

// GetUser returns a user by object id or user principal name.
func (s *Service) GetUser(ctx context.Context, tenantID, idOrUPN string) (*User, error) {
	var u User
	err := s.st.Read(ctx, func(tx store.Tx) error {
		r, err := findUser(ctx, tx, tenantID, idOrUPN)
		if err == nil {
			u = r.public()
		}
		return err
	})
	return &u, err
}

// UpdateUser changes a user's password ("" : kept) and whether it is
// enabled (nil: kept); a new password or a disabled account refuses
// the tokens it had.
func (s *Service) UpdateUser(ctx context.Context, tenantID, idOrUPN, password string, enabled *bool) error {
	if password != "" {
		if err := checkPassword(password); err != nil {
			return err
		}
	}
	return s.changeUser(ctx, tenantID, idOrUPN, func(r *userRecord) error {
		if password != "" {
			if err := s.setPassword(r, password); err != nil {
				return err
			}
		}
		if enabled != nil {
			r.Disabled = !*enabled
		}
		return nil
	})
}

// changeUser changes a user's record in a write transaction (change's
// error writes nothing) and then drops what Verify cached of the user.
func (s *Service) changeUser(ctx context.Context, tenantID, idOrUPN string, change func(*userRecord) error) error {
	var oid string
	err := s.st.Write(ctx, func(tx store.Tx) error {
		r, err := findUser(ctx, tx, tenantID, idOrUPN)
		if err != nil {
			return err
		}
		if err := change(r); err != nil {
			return err
		}
		oid = r.ObjectID
		return putUser(ctx, tx, r, s.now())
	})
	s.invalidateUser(tenantID, oid)
	return err
}

// DeleteUser deletes a user (it leaves its groups; its tokens are
// refused).
func (s *Service) DeleteUser(ctx context.Context, tenantID, idOrUPN string) error {
	var oid string
	err := s.st.Write(ctx, func(tx store.Tx) error {
		r, err := findUser(ctx, tx, tenantID, idOrUPN)
		if err != nil {
			return err
		}
		oid = r.ObjectID
		if err := tx.DeleteObject(ctx, KindUser, userKey(tenantID, r.ObjectID)); err != nil {
			return err
		}
		return removeMemberships(ctx, tx, tenantID, r.ObjectID, s.now())
	})
	s.invalidateUser(tenantID, oid)
	return err
}

// checkUser is checkPrincipal for a user's token.
func (s *Service) checkUser(ctx context.Context, p *Principal, now time.Time) error {
	key := "user/" + userKey(p.TenantID, p.ObjectID)
	st := s.principals.get(key)
	if st == nil || now.Before(st.loaded) || now.Sub(st.loaded) >= s.cfg.PrincipalCacheTTL {
		gen := s.principals.gen.Load()
		st = &principalState{loaded: now}
		err := s.st.Read(ctx, func(tx store.Tx) error {
			o, err := tx.GetObject(ctx, KindUser, userKey(p.TenantID, p.ObjectID))
			if errors.Is(err, store.ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
			var r userRecord
			if err := json.Unmarshal(o.Body, &r); err != nil {
				return err
			}
			st.found, st.objectID, st.disabled, st.creds = true, strings.ToLower(r.ObjectID), r.Disabled, r.liveCredentials(now)
			return nil
		})
		if err != nil {
			return err
		}
		s.principals.put(key, st, gen)
	}
	switch {
	case !st.found:
		return tokenErr(ErrUnknownPrincipal, "The access token is invalid: its user '%s' does not exist in tenant '%s'.", clip(p.ObjectID), p.TenantID)
	case st.disabled:
		return tokenErr(ErrPrincipalDisabled, "The access token is invalid: the user '%s' is disabled.", clip(p.ObjectID))
	case !slices.Contains(st.creds, p.CredentialID):
		return tokenErr(ErrCredentialRevoked, "The access token is invalid: its sign-in session has ended (signed out or revoked), or the password it was issued for has been changed; sign in again.")
	}
	return nil
}

// PasswordRequest is a resource owner password grant.
type PasswordRequest struct {
	TenantID, ClientID, Username, Password, Scope string
	ClientAddress, CorrelationID                  string
}

// matchUser checks a user's password in constant time (a missing user
// costs a hash too).
func matchUser(r *userRecord, pw string) bool {
	salt := make([]byte, 16)
	want := make([]byte, argonKeyLen)
	if r != nil {
		salt, want = r.Salt, r.Hash
	}
	return subtle.ConstantTimeCompare(hashPassword(salt, pw), want) == 1 && r != nil
}

// publicClients are Microsoft's first-party public clients a password
// grant may name besides the tenant's applications (Azure CLI, Azure
// PowerShell).
var publicClients = map[string]string{
	"04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
	"1950a258-227b-4e31-a9cf-717495945fc2": "Microsoft Azure PowerShell",
}

// The web dashboard (package ui) is a first-party public client of its
// own: a single-page application that signs users in with the
// authorization code flow and PKCE and redirects only to
// Config.DashboardRedirectURI.
const (
	DashboardClientID = "3c9f1d62-7a4e-4b0d-9e52-1f6a8c2d7b40"
	DashboardName     = "mlgov dashboard"
)

// PasswordGrant signs a user in with the resource owner password grant:
// throttled like client credentials, logged, and refused when a
// conditional access policy blocks it or requires multifactor
// authentication (which this grant cannot do).
func (s *Service) PasswordGrant(ctx context.Context, r PasswordRequest) (*Token, error) {
	tenantID := strings.ToLower(r.TenantID)
	now := s.now()
	if !uuid.Valid(tenantID) {
		return nil, TenantNotFound("invalid_request", tenantID)
	}
	var rec *userRecord
	var app *spRecord
	err := s.st.Read(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, KindTenant, tenantID); err != nil {
			return err
		}
		var err error
		if rec, err = findUser(ctx, tx, tenantID, r.Username); errors.Is(err, store.ErrNotFound) {
			rec = nil
		} else if err != nil {
			return err
		}
		if _, ok := publicClients[strings.ToLower(r.ClientID)]; !ok && uuid.Valid(r.ClientID) {
			if app, err = getSP(ctx, tx, tenantID, r.ClientID); errors.Is(err, store.ErrNotFound) {
				app = nil
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, TenantNotFound("invalid_request", tenantID)
	} else if err != nil {
		return nil, err
	}
	appName, known := publicClients[strings.ToLower(r.ClientID)]
	if app != nil {
		appName, known = app.DisplayName, true
	}
	si := &SignIn{CreatedDateTime: now, AppID: clip(r.ClientID), AppDisplayName: appName, IPAddress: r.ClientAddress, CorrelationID: r.CorrelationID,
		ClientCredentialType: "none", HomeTenantID: tenantID, ResourceTenantID: tenantID, SignInEventTypes: []string{"nonInteractiveUser"},
		ConditionalAccessStatus: "notApplied", AppliedConditionalAccessPolicies: []AppliedPolicy{}, UserPrincipalName: clip(r.Username)}
	if rec != nil {
		si.UserID = rec.ObjectID
	}
	tok, oerr, err := s.passwordSignIn(ctx, r, tenantID, rec, known, now, si)
	var gerr error
	if si.ID, gerr = uuid.NewFrom(s.cfg.Rand); gerr != nil {
		return nil, gerr
	}
	switch {
	case err != nil:
		si.Status = SignInStatus{ErrorCode: 50000, FailureReason: "An internal error occurred."}
	case oerr != nil:
		si.Status = SignInStatus{ErrorCode: oerr.AADSTS, FailureReason: clip(oerr.Description)}
	}
	if lerr := s.logSignIn(ctx, si); lerr != nil {
		return nil, errors.Join(lerr, err)
	}
	if err != nil {
		return nil, err
	}
	if oerr != nil {
		return nil, oerr
	}
	return tok, nil
}

func (s *Service) passwordSignIn(ctx context.Context, r PasswordRequest, tenantID string, rec *userRecord, knownClient bool, now time.Time, si *SignIn) (*Token, *OAuthError, error) {
	switch {
	case r.ClientID == "":
		return nil, MissingParameter("client_id"), nil
	case r.Username == "":
		return nil, MissingParameter("username"), nil
	case r.Password == "":
		return nil, MissingParameter("password"), nil
	case !knownClient:
		return nil, oauthErr("unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'.", clip(r.ClientID), tenantID), nil
	}
	ck, ak := clientKey(tenantID, "user:"+strings.ToLower(r.Username)), addressKey(r.ClientAddress)
	if until := s.attempts.lockedUntil(ck); now.Before(until) {
		return nil, lockedOut(r.Username, until.Sub(now)), nil
	}
	if retry, which, lock := s.attempts.admit(ck, ak, now); lock {
		s.attempts.lockMemory(ck, now.Add(s.cfg.Throttle.LockoutDuration))
		return nil, lockedOut(r.Username, s.cfg.Throttle.LockoutDuration), nil
	} else if retry > 0 {
		return nil, throttled(which, r.Username, r.ClientAddress, retry), nil
	}
	if !matchUser(rec, r.Password) {
		if s.attempts.fail(ck, now) {
			s.attempts.lockMemory(ck, now.Add(s.cfg.Throttle.LockoutDuration))
		}
		return nil, oauthErr("invalid_grant", 50126, "Error validating credentials due to invalid username or password."), nil
	}
	s.attempts.succeed(ck, ak)
	if rec.Disabled {
		return nil, oauthErr("invalid_grant", 50057, "The user account is disabled."), nil
	}
	aud, oerr := resourceOf(r.Scope, tenantID)
	if oerr != nil {
		return nil, oerr, nil
	}
	si.ResourceID, si.ResourceDisplayName = resourceApp(aud), resourceAppName(aud)
	groups, err := s.MemberOf(ctx, tenantID, rec.ObjectID)
	if err != nil {
		return nil, nil, err
	}
	applied, blocked, mfa, err := s.evaluateUserCA(ctx, tenantID, rec.ObjectID, groups, aud, r.ClientAddress)
	if err != nil {
		return nil, nil, err
	}
	if oerr := si.recordCA(applied, blocked, mfa); oerr != nil {
		return nil, oerr, nil
	}
	tok, err := s.issueUser(ctx, rec, r.ClientID, aud, now)
	if err != nil {
		return nil, nil, err
	}
	si.UniqueTokenIdentifier = tok.uti
	return tok, nil, nil
}

// issueUser signs a user's token for a public client.
func (s *Service) issueUser(ctx context.Context, rec *userRecord, clientID, aud string, now time.Time) (*Token, error) {
	sp := &spRecord{TenantID: rec.TenantID, AppID: strings.ToLower(clientID), ObjectID: rec.ObjectID}
	return s.issueWith(ctx, sp, &secretRecord{KeyID: rec.PasswordID}, aud, now, func(c *accessClaims) {
		c.IDTyp, c.AppIDACR, c.AzpACR, c.AppDisplayName = "user", "0", "0", ""
		c.UPN, c.UniqueName, c.Name, c.Scp, c.Amr = rec.UserPrincipalName, rec.UserPrincipalName, rec.DisplayName, "user_impersonation", []string{"pwd"}
	})
}
