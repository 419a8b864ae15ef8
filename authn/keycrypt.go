package authn

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/mlgov/mlgov/store"
)

// Signing keys at rest: with Config.KeyEncryptionKey set, the PKCS#8 DER
// of each private key is stored sealed with AES-256-GCM under that key
// (keyRecord.Sealed: a 12-byte nonce followed by the ciphertext; the kid
// is the additional data, so a sealed key cannot be moved to another
// record), and keyRecord.KEK names the key-encryption key by the first 8
// bytes of its SHA-256, so that a wrong one is reported as such.

// ErrWrongKeyEncryptionKey is returned (wrapped) when stored signing keys
// were sealed under another key-encryption key than the configured one.
var ErrWrongKeyEncryptionKey = errors.New("the signing keys in the store were encrypted with another key-encryption key")

// kekID names a key-encryption key without revealing it.
func kekID(kek []byte) string {
	h := sha256.Sum256(kek)
	return hex.EncodeToString(h[:8])
}

func newAEAD(kek []byte) (cipher.AEAD, error) {
	if len(kek) != 32 {
		return nil, fmt.Errorf("authn: key-encryption key: %d bytes, want 32 (AES-256)", len(kek))
	}
	blk, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// seal encrypts r.PrivateKey into r.Sealed under the configured
// key-encryption key and clears r.PrivateKey; without one it does nothing.
func (s *Service) seal(r *keyRecord) error {
	if s.cfg.KeyEncryptionKey == nil || r.PrivateKey == nil {
		return nil
	}
	aead, err := newAEAD(s.cfg.KeyEncryptionKey)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(r.PrivateKey)+aead.Overhead())
	if _, err := io.ReadFull(s.cfg.Rand, nonce); err != nil {
		return fmt.Errorf("authn: nonce: %w", err)
	}
	r.Sealed = aead.Seal(nonce, nonce, r.PrivateKey, []byte(r.KID))
	r.KEK = kekID(s.cfg.KeyEncryptionKey)
	r.PrivateKey = nil
	return nil
}

// privateDER returns the PKCS#8 DER of a stored key, opening it if sealed.
func (s *Service) privateDER(r *keyRecord) ([]byte, error) {
	if r.Sealed == nil {
		return r.PrivateKey, nil
	}
	if s.cfg.KeyEncryptionKey == nil {
		return nil, fmt.Errorf("authn: signing key %s is encrypted (key-encryption key %s) but no key-encryption key is configured", r.KID, r.KEK)
	}
	aead, err := newAEAD(s.cfg.KeyEncryptionKey)
	if err != nil {
		return nil, err
	}
	if id := kekID(s.cfg.KeyEncryptionKey); id != r.KEK {
		return nil, fmt.Errorf("authn: signing key %s: %w (%s; the configured one is %s)", r.KID, ErrWrongKeyEncryptionKey, r.KEK, id)
	}
	if len(r.Sealed) < aead.NonceSize() {
		return nil, fmt.Errorf("authn: signing key %s: sealed key too short", r.KID)
	}
	der, err := aead.Open(nil, r.Sealed[:aead.NonceSize()], r.Sealed[aead.NonceSize():], []byte(r.KID))
	if err != nil {
		return nil, fmt.Errorf("authn: signing key %s: cannot decrypt it with key-encryption key %s: %w", r.KID, r.KEK, err)
	}
	return der, nil
}

// EncryptStoredKeys seals every signing key still stored in plain form
// under the configured key-encryption key (a migration run at start) and
// returns how many it sealed. Without a key-encryption key it does
// nothing.
func (s *Service) EncryptStoredKeys(ctx context.Context) (int, error) {
	if s.cfg.KeyEncryptionKey == nil {
		return 0, nil
	}
	if _, err := newAEAD(s.cfg.KeyEncryptionKey); err != nil {
		return 0, err
	}
	n := 0
	err := s.st.Write(ctx, func(tx store.Tx) error {
		n = 0
		recs, err := keyRecords(ctx, tx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Sealed != nil || r.PrivateKey == nil {
				continue
			}
			if err := s.seal(&r); err != nil {
				return err
			}
			if err := putKey(ctx, tx, &r); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		_, err = s.reloadKeys(ctx)
	}
	return n, err
}
