package authn

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mlgov/mlgov/store"
)

// Secrets at rest: the resources' secrets (endpoint keys, datastore and
// connection credentials, attached computes' passwords) are sealed with
// AES-256-GCM under the store's data key before they are written. The
// data key is random, made once per store by the first server that
// needs it, and kept in the store (kind KindDataKey) sealed under the
// master key (the key-encryption key of the signing keys), so that
// replicas sharing a store share it and a copy of the database alone
// opens nothing. Each sealed value names the data key it was sealed
// with (its id), which is what a later rotation or a customer-managed
// key per workspace needs. The additional data of each seal is what the
// caller names (the resource's key): a sealed value moved to another
// resource does not open.

// KindDataKey is the store object kind of the sealed data keys.
const KindDataKey = "dataKey"

// sealedPrefix starts every value a DataKey seals:
// "mlgov-sealed:v1:{data key id}:" then base64 of nonce and ciphertext.
const sealedPrefix = "mlgov-sealed:v1:"

// ErrNotSealed is returned by Open for a value that is not sealed (a
// value written before secrets were sealed, for the caller to take as
// it is).
var ErrNotSealed = errors.New("the value is not sealed")

// DataKey seals and opens secrets under the store's data key.
type DataKey struct {
	id   string
	aead cipher.AEAD
	rand io.Reader
}

// dataKeyRecord is the stored form of a data key.
type dataKeyRecord struct {
	ID string `json:"id"`
	// KEK names the master key the data key is sealed under (kekID).
	KEK string `json:"kek"`
	// Sealed is the nonce followed by the sealed key (AES-256-GCM under
	// the master key; the additional data is "dataKey/" + ID).
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"createdAt"`
}

// LoadDataKey returns the store's data key for secrets, made (and stored
// sealed under kek, the 32-byte master key) if the store has none. A
// data key sealed under another master key is ErrWrongKeyEncryptionKey.
func LoadDataKey(ctx context.Context, st store.Store, kek []byte) (*DataKey, error) {
	wrap, err := newAEAD(kek)
	if err != nil {
		return nil, err
	}
	var rec dataKeyRecord
	err = st.Write(ctx, func(tx store.Tx) error {
		o, err := tx.GetObject(ctx, KindDataKey, "secrets")
		if err == nil {
			return json.Unmarshal(o.Body, &rec)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		key := make([]byte, 32)
		id := make([]byte, 8)
		if _, err := io.ReadFull(rand.Reader, key); err != nil {
			return err
		}
		if _, err := io.ReadFull(rand.Reader, id); err != nil {
			return err
		}
		rec = dataKeyRecord{ID: hex.EncodeToString(id), KEK: kekID(kek), CreatedAt: time.Now().UTC()}
		nonce := make([]byte, wrap.NonceSize())
		if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
			return err
		}
		rec.Sealed = wrap.Seal(nonce, nonce, key, []byte("dataKey/"+rec.ID))
		body, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return tx.PutObject(ctx, &store.Object{Kind: KindDataKey, Key: "secrets", Body: body, UpdatedAt: rec.CreatedAt})
	})
	if err != nil {
		return nil, fmt.Errorf("authn: data key: %w", err)
	}
	if id := kekID(kek); rec.KEK != id {
		return nil, fmt.Errorf("authn: the data key of the stored secrets: %w (%s; the configured one is %s)", ErrWrongKeyEncryptionKey, rec.KEK, id)
	}
	if len(rec.Sealed) < wrap.NonceSize() {
		return nil, errors.New("authn: the stored data key is too short")
	}
	key, err := wrap.Open(nil, rec.Sealed[:wrap.NonceSize()], rec.Sealed[wrap.NonceSize():], []byte("dataKey/"+rec.ID))
	if err != nil {
		return nil, fmt.Errorf("authn: the stored data key cannot be decrypted with master key %s: %w", rec.KEK, err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &DataKey{id: rec.ID, aead: aead, rand: rand.Reader}, nil
}

// Seal encrypts plain for the holder named by aad.
func (d *DataKey) Seal(plain []byte, aad string) ([]byte, error) {
	return seal(d.aead, d.rand, d.id, plain, aad)
}

// Open decrypts what Seal made for the same aad. A value that is not
// sealed is ErrNotSealed; one sealed under another data key, or for
// another holder, or changed, is an error naming the key.
func (d *DataKey) Open(sealed []byte, aad string) ([]byte, error) {
	return open(d.aead, d.id, "the store's", sealed, aad)
}

// seal is Seal under the AEAD of the data key id.
func seal(aead cipher.AEAD, rnd io.Reader, id string, plain []byte, aad string) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, fmt.Errorf("authn: nonce: %w", err)
	}
	ct := aead.Seal(nonce, nonce, plain, []byte(aad))
	out := make([]byte, 0, len(sealedPrefix)+len(id)+1+base64.StdEncoding.EncodedLen(len(ct)))
	out = append(out, sealedPrefix...)
	out = append(out, id...)
	out = append(out, ':')
	return base64.StdEncoding.AppendEncode(out, ct), nil
}

// open is Open under the AEAD of the data key id (whose is who holds
// it, for the error of a value sealed under another key).
func open(aead cipher.AEAD, id, whose string, sealed []byte, aad string) ([]byte, error) {
	sid, err := SealedKeyID(sealed)
	if err != nil {
		return nil, err
	}
	if sid != id {
		return nil, fmt.Errorf("authn: a value sealed under data key %s, not %s (%s)", sid, whose, id)
	}
	b64 := sealed[len(sealedPrefix)+len(sid)+1:]
	ct, err := base64.StdEncoding.AppendDecode(nil, b64)
	if err != nil || len(ct) < aead.NonceSize() {
		return nil, errors.New("authn: a sealed value that is not well-formed")
	}
	plain, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("authn: a sealed value of %s does not open under data key %s (changed, or moved from another holder)", aad, id)
	}
	return plain, nil
}

// SealedKeyID returns the id of the data key a sealed value names;
// ErrNotSealed for a value that is not sealed.
func SealedKeyID(sealed []byte) (string, error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(sealedPrefix))
	if !ok {
		return "", ErrNotSealed
	}
	id, _, ok := bytes.Cut(rest, []byte(":"))
	if !ok {
		return "", errors.New("authn: a sealed value without its data key id")
	}
	return string(id), nil
}
