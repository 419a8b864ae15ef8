package authn

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// storedKeyForms are the byte strings that would show a private signing
// key in a stored object: its PKCS#8 DER (and the DER of the RSA key
// inside it), raw and in base64, and the PKCS#8 header of any RSA key.
func storedKeyForms(t *testing.T, svc *Service) [][]byte {
	t.Helper()
	ks, err := svc.currentKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 020100 300d06092a864886f70d0101010500: version 0 and the
	// rsaEncryption AlgorithmIdentifier, the start of every PKCS#8 RSA key.
	forms := [][]byte{{0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00}, []byte("ADANBgkqhkiG9w0BAQEFAA")}
	for _, k := range ks.sorted {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			t.Fatal(err)
		}
		pkcs1 := x509.MarshalPKCS1PrivateKey(k.priv)
		forms = append(forms, der, []byte(base64.StdEncoding.EncodeToString(der)), pkcs1, k.priv.D.Bytes())
	}
	return forms
}

func TestSigningKeyEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	kek := bytes.Repeat([]byte{7}, 32)
	f := newFixture(t, func(c *Config) { c.KeyEncryptionKey = kek })
	tok := f.token(t)
	if err := f.svc.RotateSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	forms := storedKeyForms(t, f.svc)
	n := 0
	for _, o := range f.st.Objects() {
		if o.Kind == KindSigningKey {
			n++
			if !bytes.Contains(o.Body, []byte(`"sealedPrivateKey"`)) || bytes.Contains(o.Body, []byte(`"privateKey"`)) {
				t.Errorf("signing key %s stored as %s, want only a sealed key", o.Key, o.Body)
			}
		}
		for i, form := range forms {
			if bytes.Contains(o.Body, form) {
				t.Errorf("object %s/%s holds form %d of a private signing key", o.Kind, o.Key, i)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d signing keys stored, want 2", n)
	}
	// Another service on the same store with the same key verifies the
	// token signed before the rotation.
	other := newService(f.st, f.clk, func(c *Config) { c.KeyEncryptionKey = kek })
	if _, err := other.Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("verify with the same key-encryption key: %v", err)
	}

	for _, tc := range []struct {
		name string
		kek  []byte
		want string
	}{
		{"wrong key", bytes.Repeat([]byte{8}, 32), "another key-encryption key"},
		{"no key", nil, "no key-encryption key is configured"},
		{"short key", []byte("short"), "want 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(f.st, f.clk, func(c *Config) { c.KeyEncryptionKey = tc.kek })
			err := svc.EnsureSigningKey(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("EnsureSigningKey = %v, want an error with %q", err, tc.want)
			}
			if tc.name == "wrong key" && !errors.Is(err, ErrWrongKeyEncryptionKey) {
				t.Errorf("error %v is not ErrWrongKeyEncryptionKey", err)
			}
			// No key was added to replace the unreadable ones.
			n := 0
			for _, o := range f.st.Objects() {
				if o.Kind == KindSigningKey {
					n++
				}
			}
			if n != 2 {
				t.Errorf("%d signing keys after the refused start, want 2", n)
			}
		})
	}
}

func TestEncryptStoredKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil) // keys stored in plain form, as before
	tok := f.token(t)
	forms := storedKeyForms(t, f.svc)
	plain := false
	for _, o := range f.st.Objects() {
		plain = plain || bytes.Contains(o.Body, forms[1])
	}
	if !plain {
		t.Fatal("without a key-encryption key the key should be stored in plain form (the test would prove nothing)")
	}
	svc := newService(f.st, f.clk, func(c *Config) { c.KeyEncryptionKey = bytes.Repeat([]byte{1}, 32) })
	n, err := svc.EncryptStoredKeys(ctx)
	if err != nil || n != 1 {
		t.Fatalf("EncryptStoredKeys = %d, %v; want 1, nil", n, err)
	}
	for _, o := range f.st.Objects() {
		for i, form := range forms {
			if bytes.Contains(o.Body, form) {
				t.Errorf("after EncryptStoredKeys object %s/%s holds form %d of the private key", o.Kind, o.Key, i)
			}
		}
	}
	if n, err := svc.EncryptStoredKeys(ctx); err != nil || n != 0 {
		t.Errorf("second EncryptStoredKeys = %d, %v; want 0, nil", n, err)
	}
	if _, err := svc.Verify(ctx, tok.AccessToken); err != nil {
		t.Errorf("a token signed before the migration: %v", err)
	}
	if _, err := svc.TokenForClientSecret(ctx, f.tenant.ID, f.sp.AppID, f.secret, armScope); err != nil {
		t.Errorf("issuing with the sealed key: %v", err)
	}
}
