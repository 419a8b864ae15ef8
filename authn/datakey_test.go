package authn_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/authn/authntest"
)

// TestDataKey: the store's data key is made once and found again by
// another server with the same master key (what one seals, the other
// opens); never by one with another master key; a sealed value holds
// nothing of the plain one, opens only for the holder it was sealed for
// and only unchanged; a value that is not sealed is said to be so.
func TestDataKey(t *testing.T) {
	ctx := context.Background()
	st := authntest.NewMemStore()
	kek := bytes.Repeat([]byte{7}, 32)
	a, err := authn.LoadDataKey(ctx, st, kek)
	if err != nil {
		t.Fatal(err)
	}
	b, err := authn.LoadDataKey(ctx, st, kek)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"primaryKey":"s3cret-value"}`)
	sealed, err := a.Seal(plain, "/subscriptions/s/x")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("s3cret")) || !bytes.HasPrefix(sealed, []byte("mlgov-sealed:v1:")) {
		t.Errorf("sealed value %q", sealed)
	}
	if got, err := b.Open(sealed, "/subscriptions/s/x"); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("opened by the second server: %q, %v", got, err)
	}
	if _, err := b.Open(sealed, "/subscriptions/s/y"); err == nil {
		t.Error("a sealed value opened for another holder")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-3] ^= 1
	if _, err := b.Open(tampered, "/subscriptions/s/x"); err == nil {
		t.Error("a changed sealed value opened")
	}
	if _, err := b.Open(plain, "/subscriptions/s/x"); !errors.Is(err, authn.ErrNotSealed) {
		t.Errorf("a plain value: %v, want ErrNotSealed", err)
	}
	if _, err := authn.LoadDataKey(ctx, st, bytes.Repeat([]byte{8}, 32)); !errors.Is(err, authn.ErrWrongKeyEncryptionKey) {
		t.Errorf("another master key: %v, want ErrWrongKeyEncryptionKey", err)
	}
	if _, err := authn.LoadDataKey(ctx, st, kek[:16]); err == nil || !strings.Contains(err.Error(), "32") {
		t.Errorf("a short master key: %v", err)
	}
	if n := len(st.Objects()); n != 1 {
		t.Errorf("%d objects stored, want the one data key", n)
	}
	for _, o := range st.Objects() {
		if bytes.Contains(o.Body, kek) {
			t.Error("the stored data key record holds the master key")
		}
	}
}
