package authn

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Customer-managed keys: the cryptography behind a workspace whose
// secrets are sealed under its own data key, wrapped by a key of a
// Microsoft.KeyVault/vaults resource that mlgov holds (package resources
// keeps the records and decides when to wrap). A vault key version is an
// RSA private key (PKCS #8), kept by the caller sealed under the store's
// data key and never returned; a workspace data key is 32 random bytes,
// kept only wrapped with RSA-OAEP (SHA-256) under the vault key's public
// half, and unwrapped in memory to seal and open that workspace's
// secrets (AES-256-GCM, the sealed form naming the workspace key's id,
// as the store data key's sealed values name theirs).

// CMKBits are the RSA key sizes a vault key may have.
var CMKBits = []int{2048, 3072, 4096}

// ErrUnwrap is returned by UnwrapKey when the wrapped key does not
// decrypt under the private key (another key, or changed).
var ErrUnwrap = errors.New("authn: the wrapped key does not decrypt under this key")

// NewKeyPair makes an RSA private key of bits (one of CMKBits) and
// returns it in PKCS #8 form.
func (d *DataKey) NewKeyPair(bits int) ([]byte, error) {
	ok := false
	for _, b := range CMKBits {
		ok = ok || b == bits
	}
	if !ok {
		return nil, fmt.Errorf("authn: RSA key size %d is not one of 2048, 3072, 4096", bits)
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("authn: RSA key: %w", err)
	}
	return x509.MarshalPKCS8PrivateKey(k)
}

// NewWorkspaceKey makes a workspace data key: its id (what its sealed
// values name: "cmk-" and 16 hex digits) and 32 random bytes.
func (d *DataKey) NewWorkspaceKey() (id string, key []byte, err error) {
	key = make([]byte, 32)
	raw := make([]byte, 8)
	if _, err := io.ReadFull(d.rand, key); err != nil {
		return "", nil, fmt.Errorf("authn: data key: %w", err)
	}
	if _, err := io.ReadFull(d.rand, raw); err != nil {
		return "", nil, fmt.Errorf("authn: data key id: %w", err)
	}
	return "cmk-" + hex.EncodeToString(raw), key, nil
}

// WrapKey encrypts key with RSA-OAEP (SHA-256) under the public half of
// private (PKCS #8).
func (d *DataKey) WrapKey(private, key []byte) ([]byte, error) {
	k, err := rsaKey(private)
	if err != nil {
		return nil, err
	}
	return rsa.EncryptOAEP(sha256.New(), d.rand, &k.PublicKey, key, nil)
}

// UnwrapKey decrypts what WrapKey made under the same private key;
// ErrUnwrap when it does not decrypt.
func (d *DataKey) UnwrapKey(private, wrapped []byte) ([]byte, error) {
	k, err := rsaKey(private)
	if err != nil {
		return nil, err
	}
	key, err := rsa.DecryptOAEP(sha256.New(), nil, k, wrapped, nil)
	if err != nil {
		return nil, ErrUnwrap
	}
	return key, nil
}

func rsaKey(private []byte) (*rsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(private)
	if err != nil {
		return nil, fmt.Errorf("authn: a vault key that is not PKCS #8: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("authn: a vault key that is not an RSA key")
	}
	return rk, nil
}

// SealWith seals plain for the holder aad under the workspace data key
// (id, key): Seal's form, naming id.
func (d *DataKey) SealWith(id string, key, plain []byte, aad string) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return seal(aead, d.rand, id, plain, aad)
}

// OpenWith opens what SealWith sealed with the same key for the same
// holder; a value sealed under another key is an error naming both.
func (d *DataKey) OpenWith(id string, key, sealed []byte, aad string) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return open(aead, id, "the workspace's", sealed, aad)
}
