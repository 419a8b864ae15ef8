package authn

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mlgov/mlgov/store"
)

// Algorithm is the only JWS algorithm this package issues and accepts
// (Entra signs access tokens with RS256).
const Algorithm = "RS256"

const rsaBits = 2048

// minKeyReload bounds how often an unknown kid makes Verify re-read the
// signing keys from the store (so random kids cannot hammer the store).
const minKeyReload = 5 * time.Second

// keyRecord is the stored form of a signing key (Kind KindSigningKey, Key
// its kid). With Config.KeyEncryptionKey the private key's PKCS#8 DER is
// stored sealed (Sealed, KEK; see keycrypt.go); without it, or in records
// written before, in plain form (PrivateKey): whoever can read the store
// can then mint tokens.
type keyRecord struct {
	KID        string    `json:"kid"`
	Alg        string    `json:"alg"`
	PrivateKey []byte    `json:"privateKey,omitempty"`
	Sealed     []byte    `json:"sealedPrivateKey,omitempty"`
	KEK        string    `json:"kek,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	// RetiredAt is when a newer key replaced it; zero while it signs.
	RetiredAt time.Time `json:"retiredAt,omitzero"`
}

type signingKey struct {
	kid     string
	priv    *rsa.PrivateKey
	created time.Time
	retired time.Time
}

// keySet is an immutable snapshot of the stored keys.
type keySet struct {
	byKID  map[string]*signingKey
	sorted []*signingKey // by creation time, then kid
	active *signingKey   // newest unretired key, or nil
}

// retention is how long a retired key stays published and accepted:
// until every token it signed has expired, plus clock leeway, plus the
// time another replica may still have signed with its cached copy.
func (s *Service) retention() time.Duration {
	return s.cfg.TokenLifetime + s.cfg.Leeway + s.cfg.KeyCacheTTL
}

func (s *Service) published(k *signingKey, now time.Time) bool {
	return k.retired.IsZero() || now.Before(k.retired.Add(s.retention()))
}

// EnsureSigningKey creates a signing key if there is no active one. Call
// it at start-up; issuing a token also calls it when needed.
func (s *Service) EnsureSigningKey(ctx context.Context) error {
	ks, err := s.reloadKeys(ctx)
	if err != nil || ks.active != nil {
		return err
	}
	rec, err := s.newKeyRecord()
	if err != nil {
		return err
	}
	err = s.st.Write(ctx, func(tx store.Tx) error {
		recs, err := keyRecords(ctx, tx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.RetiredAt.IsZero() {
				return nil // another replica made one meanwhile
			}
		}
		return putKey(ctx, tx, rec)
	})
	if err != nil {
		return err
	}
	_, err = s.reloadKeys(ctx)
	return err
}

// RotateSigningKey makes a new key the signing key. Keys it replaces stay
// in the JWKS and keep verifying until the tokens they signed have
// expired; keys past that are deleted.
func (s *Service) RotateSigningKey(ctx context.Context) error {
	rec, err := s.newKeyRecord()
	if err != nil {
		return err
	}
	now := rec.CreatedAt
	err = s.st.Write(ctx, func(tx store.Tx) error {
		recs, err := keyRecords(ctx, tx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			switch {
			case r.RetiredAt.IsZero():
				r.RetiredAt = now
				if err := putKey(ctx, tx, &r); err != nil {
					return err
				}
			case !now.Before(r.RetiredAt.Add(s.retention())):
				if err := tx.DeleteObject(ctx, KindSigningKey, r.KID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		return putKey(ctx, tx, rec)
	})
	if err != nil {
		return err
	}
	_, err = s.reloadKeys(ctx)
	return err
}

// RotateSigningKeyIfOlder rotates the signing key if the active one was
// created maxAge or longer ago (or there is none), and reports whether it
// did. Replicas that call it at the same moment may each rotate; the keys
// they retire keep verifying for the retention, so that does no harm.
func (s *Service) RotateSigningKeyIfOlder(ctx context.Context, maxAge time.Duration) (bool, error) {
	ks, err := s.reloadKeys(ctx)
	if err != nil {
		return false, err
	}
	if ks.active != nil && s.now().Sub(ks.active.created) < maxAge {
		return false, nil
	}
	return true, s.RotateSigningKey(ctx)
}

// JWKS returns the JSON Web Key Set of the public keys that tokens may be
// signed with now: the active key and retired keys still in retention.
func (s *Service) JWKS(ctx context.Context) ([]byte, error) {
	ks, err := s.currentKeys(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range ks.sorted {
		if s.published(k, now) {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: Algorithm, Use: "sig"})
		}
	}
	return json.Marshal(set)
}

func (s *Service) newKeyRecord() (*keyRecord, error) {
	// Go 1.26 ignores the reader and uses the system's secure source.
	priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("authn: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	kid, err := keyID(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	rec := &keyRecord{KID: kid, Alg: Algorithm, PrivateKey: der, CreatedAt: s.now()}
	if err := s.seal(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// keyID is the RFC 7638 JWK thumbprint (SHA-256, base64url).
func keyID(pub *rsa.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// keyRecords reads every stored signing-key record.
func keyRecords(ctx context.Context, tx store.Tx) ([]keyRecord, error) {
	objs, err := tx.ListObjects(ctx, KindSigningKey)
	if err != nil {
		return nil, err
	}
	recs := make([]keyRecord, len(objs))
	for i, o := range objs {
		if err := json.Unmarshal(o.Body, &recs[i]); err != nil {
			return nil, fmt.Errorf("authn: signing key %s: %w", o.Key, err)
		}
	}
	return recs, nil
}

func putKey(ctx context.Context, tx store.Tx, r *keyRecord) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	upd := r.CreatedAt
	if r.RetiredAt.After(upd) {
		upd = r.RetiredAt
	}
	return tx.PutObject(ctx, &store.Object{Kind: KindSigningKey, Key: r.KID, Body: body, UpdatedAt: upd})
}

// currentKeys returns the cached keys, re-reading them when older than
// KeyCacheTTL.
func (s *Service) currentKeys(ctx context.Context) (*keySet, error) {
	s.mu.Lock()
	ks, loaded := s.keys, s.loaded
	s.mu.Unlock()
	now := s.now()
	if ks != nil && !now.Before(loaded) && now.Sub(loaded) < s.cfg.KeyCacheTTL {
		return ks, nil
	}
	return s.reloadKeys(ctx)
}

// lookupKey finds a key by kid, re-reading the store once if the kid is
// unknown and the cache is older than minKeyReload (a key rotated by
// another replica).
func (s *Service) lookupKey(ctx context.Context, kid string) (*signingKey, error) {
	ks, err := s.currentKeys(ctx)
	if err != nil {
		return nil, err
	}
	if k := ks.byKID[kid]; k != nil {
		return k, nil
	}
	s.mu.Lock()
	loaded := s.loaded
	s.mu.Unlock()
	if now := s.now(); now.Before(loaded) || now.Sub(loaded) >= minKeyReload {
		if ks, err = s.reloadKeys(ctx); err != nil {
			return nil, err
		}
	}
	return ks.byKID[kid], nil
}

func (s *Service) reloadKeys(ctx context.Context) (*keySet, error) {
	var recs []keyRecord
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		recs, err = keyRecords(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	ks := &keySet{byKID: make(map[string]*signingKey, len(recs))}
	for _, r := range recs {
		if r.Alg != Algorithm {
			return nil, fmt.Errorf("authn: signing key %s: unsupported algorithm %q", r.KID, r.Alg)
		}
		der, err := s.privateDER(&r)
		if err != nil {
			return nil, err
		}
		pk, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("authn: signing key %s: %w", r.KID, err)
		}
		priv, ok := pk.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("authn: signing key %s: not an RSA key", r.KID)
		}
		k := &signingKey{kid: r.KID, priv: priv, created: r.CreatedAt, retired: r.RetiredAt}
		ks.byKID[k.kid] = k
		ks.sorted = append(ks.sorted, k)
	}
	slices.SortFunc(ks.sorted, func(a, b *signingKey) int {
		return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.kid, b.kid))
	})
	for _, k := range ks.sorted {
		if k.retired.IsZero() {
			ks.active = k // the newest wins if replicas raced
		}
	}
	s.mu.Lock()
	s.keys, s.loaded = ks, s.now()
	s.mu.Unlock()
	return ks, nil
}

// RunKeyRotation rotates the signing key whenever it has been in use for
// lifetime, checking every lifetime/24 (at most hourly), until ctx ends.
func (s *Service) RunKeyRotation(ctx context.Context, lifetime time.Duration, log interface {
	Info(msg string, args ...any)
	Error(msg string, args ...any)
}) {
	every := min(max(lifetime/24, 10*time.Millisecond), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if rotated, err := s.RotateSigningKeyIfOlder(ctx, lifetime); err != nil && ctx.Err() == nil {
			log.Error("rotating the signing key", "err", err)
		} else if rotated {
			log.Info("token signing key rotated", "lifetime", lifetime)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
