package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
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

// Sign-in sessions: what an interactive sign-in (the authorization code
// and device code flows, interactive.go) leaves behind. A session is one
// user's sign-in: how the user authenticated (amr: pwd, and mfa after a
// TOTP code), when, and with which password. It lives in the user's
// record, so that Verify reads one object per user:
//
//   - The access tokens of a session name it as their credential (the
//     mlgov_cred claim is the session id): ending the session refuses
//     them at once on this replica and within PrincipalCacheTTL on the
//     others, as a removed client secret refuses its tokens.
//   - Each client of the session holds one refresh token, stored as a
//     SHA-256 hash. Using it rotates it (a new one is returned, the old
//     one dies); presenting the old one again is taken as theft (the
//     OAuth 2.0 Security BCP's refresh token reuse detection) and ends
//     the session. A session unused for SessionIdleLifetime ends.
//   - The browser that signed in holds the session in a cookie (hashed
//     too), which lets a later authorization request of the same
//     browser skip the password (single sign-on) until sign-out.
//   - A new password ends every session made with the old one;
//     revokeSignInSessions ends them all (and refuses the tokens of the
//     password grant too).
//
// A user keeps at most maxSessions sessions: a new one pushes out the
// least recently used.

const (
	// SessionIdleLifetime is how long a session lives unused (Entra's
	// refresh tokens for public clients: 90 days of inactivity).
	SessionIdleLifetime = 90 * 24 * time.Hour
	maxSessions         = 16
)

type sessionRecord struct {
	ID         string    `json:"id"`
	AMR        []string  `json:"amr"`
	AuthTime   time.Time `json:"authTime"`
	LastUsed   time.Time `json:"lastUsed"`
	PasswordID string    `json:"passwordId"`
	// Browser is the SHA-256 of the cookie secret of the browser that
	// signed in (nil: no browser, a device code sign-in).
	Browser []byte `json:"browser,omitempty"`
	// Refresh maps a client id to its refresh token state.
	Refresh map[string]*refreshState `json:"refresh,omitempty"`
}

type refreshState struct {
	Current  []byte `json:"current"`
	Previous []byte `json:"previous,omitempty"`
	// Scope is the scope last granted to the client, for a refresh
	// that names none.
	Scope string `json:"scope,omitempty"`
}

func (s *sessionRecord) mfa() bool { return slices.Contains(s.AMR, "mfa") }

func (s *sessionRecord) live(rec *userRecord, now time.Time) bool {
	return s.PasswordID == rec.PasswordID && now.Sub(s.LastUsed) < SessionIdleLifetime
}

func tokenHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func sameHash(a, b []byte) bool { return len(a) > 0 && subtle.ConstantTimeCompare(a, b) == 1 }

// session returns a live session of the user, or nil.
func (r *userRecord) session(id string, now time.Time) *sessionRecord {
	for _, s := range r.Sessions {
		if s.ID == id && s.live(r, now) {
			return s
		}
	}
	return nil
}

// pruneSessions drops the sessions that ended (another password, idle).
func (r *userRecord) pruneSessions(now time.Time) {
	r.Sessions = slices.DeleteFunc(r.Sessions, func(s *sessionRecord) bool { return !s.live(r, now) })
}

// endSession removes a session; it reports whether there was one.
func (r *userRecord) endSession(id string) bool {
	n := len(r.Sessions)
	r.Sessions = slices.DeleteFunc(r.Sessions, func(s *sessionRecord) bool { return s.ID == id })
	return len(r.Sessions) != n
}

// newSession adds a session to the user's record (pushing out the least
// recently used past maxSessions) and returns it.
func (s *Service) newSession(r *userRecord, amr []string, now time.Time) (*sessionRecord, error) {
	id, err := uuid.NewFrom(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	r.pruneSessions(now)
	if len(r.Sessions) >= maxSessions {
		slices.SortFunc(r.Sessions, func(a, b *sessionRecord) int { return b.LastUsed.Compare(a.LastUsed) })
		r.Sessions = r.Sessions[:maxSessions-1]
	}
	ss := &sessionRecord{ID: id, AMR: amr, AuthTime: now, LastUsed: now, PasswordID: r.PasswordID}
	r.Sessions = append(r.Sessions, ss)
	return ss, nil
}

// liveCredentials are the credential ids a user's tokens may name: the
// password (the password grant's tokens) and the live sessions.
func (r *userRecord) liveCredentials(now time.Time) []string {
	out := []string{r.PasswordID}
	for _, s := range r.Sessions {
		if s.live(r, now) {
			out = append(out, s.ID)
		}
	}
	return out
}

// refreshTokenPrefix starts every refresh token:
// "mlgovrt1.{tenant}.{user}.{session}.{secret}".
const refreshTokenPrefix = "mlgovrt1."

// newRefreshToken makes the client's refresh token of a session (the one
// it had dies).
func (s *Service) newRefreshToken(r *userRecord, ss *sessionRecord, clientID, scope string) (string, error) {
	secret, err := randomID(s.cfg.Rand, 32)
	if err != nil {
		return "", err
	}
	if ss.Refresh == nil {
		ss.Refresh = map[string]*refreshState{}
	}
	key := strings.ToLower(clientID)
	st := ss.Refresh[key]
	if st == nil {
		st = &refreshState{}
		ss.Refresh[key] = st
	}
	st.Previous, st.Current, st.Scope = st.Current, tokenHash(secret), scope
	return refreshTokenPrefix + r.TenantID + "." + r.ObjectID + "." + ss.ID + "." + secret, nil
}

// parseRefreshToken splits a refresh token.
func parseRefreshToken(tok string) (tenantID, userID, sessionID, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, refreshTokenPrefix)
	if !ok {
		return "", "", "", "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 || !uuid.Valid(parts[0]) || !uuid.Valid(parts[1]) || !uuid.Valid(parts[2]) || parts[3] == "" {
		return "", "", "", "", false
	}
	return strings.ToLower(parts[0]), strings.ToLower(parts[1]), strings.ToLower(parts[2]), parts[3], true
}

// sessionCookiePrefix starts a browser's session cookie value:
// "{session}.{user}.{secret}".
func (s *Service) newBrowserCookie(r *userRecord, ss *sessionRecord) (string, error) {
	secret, err := randomID(s.cfg.Rand, 32)
	if err != nil {
		return "", err
	}
	ss.Browser = tokenHash(secret)
	return ss.ID + "." + r.ObjectID + "." + secret, nil
}

// browserSession returns the user record and live session a cookie
// names, or nils.
func browserSession(ctx context.Context, tx store.Tx, tenantID, cookie string, now time.Time) (*userRecord, *sessionRecord, error) {
	parts := strings.Split(cookie, ".")
	if len(parts) != 3 || !uuid.Valid(parts[0]) || !uuid.Valid(parts[1]) {
		return nil, nil, nil
	}
	rec, err := getUser(ctx, tx, tenantID, parts[1])
	if rec == nil || err != nil {
		return nil, nil, err
	}
	ss := rec.session(strings.ToLower(parts[0]), now)
	if ss == nil || !sameHash(ss.Browser, tokenHash(parts[2])) || rec.Disabled {
		return nil, nil, nil
	}
	return rec, ss, nil
}

// getUser returns a user's record by object id (nil when there is none).
func getUser(ctx context.Context, tx store.Tx, tenantID, oid string) (*userRecord, error) {
	o, err := tx.GetObject(ctx, KindUser, userKey(tenantID, oid))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var r userRecord
	return &r, json.Unmarshal(o.Body, &r)
}

// EndBrowserSession ends the session of a browser's cookie (sign-out);
// a cookie that names no session is not an error.
func (s *Service) EndBrowserSession(ctx context.Context, tenantID, cookie string) error {
	tenantID = strings.ToLower(tenantID)
	var oid string
	err := s.st.Write(ctx, func(tx store.Tx) error {
		rec, ss, err := browserSession(ctx, tx, tenantID, cookie, s.now())
		if rec == nil || err != nil {
			return err
		}
		oid = rec.ObjectID
		rec.endSession(ss.ID)
		return putUser(ctx, tx, rec, s.now())
	})
	s.invalidateUser(tenantID, oid)
	return err
}

// RevokeRefreshToken ends the session of a refresh token (RFC 7009's
// revocation, as `mlgov logout` sends it): the session's refresh tokens,
// access tokens and browser cookie stop working. A token that names no
// session is not an error (RFC 7009 §2.2).
func (s *Service) RevokeRefreshToken(ctx context.Context, tenantID, token string) error {
	tid, oid, sid, secret, ok := parseRefreshToken(token)
	if !ok || tid != strings.ToLower(tenantID) {
		return nil
	}
	err := s.st.Write(ctx, func(tx store.Tx) error {
		rec, err := getUser(ctx, tx, tid, oid)
		if rec == nil || err != nil {
			return err
		}
		ss := rec.session(sid, s.now())
		if ss == nil {
			return nil
		}
		h := tokenHash(secret)
		if !slices.ContainsFunc(mapValues(ss.Refresh), func(st *refreshState) bool { return sameHash(st.Current, h) || sameHash(st.Previous, h) }) {
			return nil
		}
		rec.endSession(sid)
		return putUser(ctx, tx, rec, s.now())
	})
	s.invalidateUser(tid, oid)
	return err
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// RevokeSignInSessions ends all of a user's sessions and refuses the
// tokens of its password grants too (Graph's revokeSignInSessions); the
// password itself is kept.
func (s *Service) RevokeSignInSessions(ctx context.Context, tenantID, idOrUPN string) error {
	return s.changeUser(ctx, tenantID, idOrUPN, func(r *userRecord) (err error) {
		r.PasswordID, err = uuid.NewFrom(s.cfg.Rand)
		r.Sessions = nil
		return err
	})
}

// sealedSecret is a small secret kept in a record: sealed under the
// key-encryption key when one is configured (KEK names it), plain
// otherwise, as the signing keys are.
type sealedSecret struct {
	KEK  string `json:"kek,omitempty"`
	Data []byte `json:"data"`
}

func (s *Service) sealSecret(plain []byte, aad string) (sealedSecret, error) {
	if s.cfg.KeyEncryptionKey == nil {
		return sealedSecret{Data: plain}, nil
	}
	aead, err := newAEAD(s.cfg.KeyEncryptionKey)
	if err != nil {
		return sealedSecret{}, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(s.cfg.Rand, nonce); err != nil {
		return sealedSecret{}, fmt.Errorf("authn: nonce: %w", err)
	}
	return sealedSecret{KEK: kekID(s.cfg.KeyEncryptionKey), Data: aead.Seal(nonce, nonce, plain, []byte(aad))}, nil
}

func (s *Service) openSecret(ss sealedSecret, aad string) ([]byte, error) {
	if ss.KEK == "" {
		return ss.Data, nil
	}
	if s.cfg.KeyEncryptionKey == nil || kekID(s.cfg.KeyEncryptionKey) != ss.KEK {
		return nil, fmt.Errorf("authn: a secret sealed under key-encryption key %s: %w", ss.KEK, ErrWrongKeyEncryptionKey)
	}
	aead, err := newAEAD(s.cfg.KeyEncryptionKey)
	if err != nil {
		return nil, err
	}
	if len(ss.Data) < aead.NonceSize() {
		return nil, errors.New("authn: a sealed secret that is not well-formed")
	}
	return aead.Open(nil, ss.Data[:aead.NonceSize()], ss.Data[aead.NonceSize():], []byte(aad))
}

// clientInfo is Entra's client_info: base64url of {"uid","utid"}, which
// MSAL reads to key its account cache.
func clientInfo(tenantID, oid string) string {
	b, _ := json.Marshal(map[string]string{"uid": oid, "utid": tenantID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// invalidateUser drops what Verify cached of a user (after a commit that
// changed its sessions); oid "" does nothing.
func (s *Service) invalidateUser(tenantID, oid string) {
	if oid != "" {
		s.principals.invalidate("user/" + userKey(tenantID, oid))
	}
}
