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

// TestWorkspaceKeyWrap: a workspace data key wrapped under one vault key
// unwraps under it to the same bytes and under no other; re-wrapped under
// a second key (rotation) it is the same key, so what it sealed before
// still opens; its sealed values name the workspace key, not the store's,
// and neither key opens the other's values.
func TestWorkspaceKeyWrap(t *testing.T) {
	dk, err := authn.LoadDataKey(context.Background(), authntest.NewMemStore(), bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	v1, err := dk.NewKeyPair(2048)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := dk.NewKeyPair(2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dk.NewKeyPair(1024); err == nil {
		t.Error("NewKeyPair(1024) made a key")
	}
	id, key, err := dk.NewWorkspaceKey()
	if err != nil || len(key) != 32 || !strings.HasPrefix(id, "cmk-") {
		t.Fatalf("NewWorkspaceKey: %q %d bytes, %v", id, len(key), err)
	}
	w1, err := dk.WrapKey(v1, key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w1, key) {
		t.Error("the wrapped key holds the key")
	}
	if got, err := dk.UnwrapKey(v1, w1); err != nil || !bytes.Equal(got, key) {
		t.Errorf("UnwrapKey(v1) = %x, %v; want %x", got, err, key)
	}
	if _, err := dk.UnwrapKey(v2, w1); !errors.Is(err, authn.ErrUnwrap) {
		t.Errorf("UnwrapKey under another key: %v, want ErrUnwrap", err)
	}
	changed := bytes.Clone(w1)
	changed[10] ^= 1
	if _, err := dk.UnwrapKey(v1, changed); !errors.Is(err, authn.ErrUnwrap) {
		t.Errorf("UnwrapKey of a changed wrap: %v, want ErrUnwrap", err)
	}

	plain := []byte(`{"key":"s3cret"}`)
	sealed, err := dk.SealWith(id, key, plain, "/ws/datastores/d")
	if err != nil {
		t.Fatal(err)
	}
	if sid, err := authn.SealedKeyID(sealed); err != nil || sid != id || bytes.Contains(sealed, []byte("s3cret")) {
		t.Errorf("sealed %q names %q, %v; want %q", sealed, sid, err, id)
	}
	// Rotation: re-wrapped under v2, the same key opens what v1's did.
	w2, err := dk.WrapKey(v2, key)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := dk.UnwrapKey(v2, w2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := dk.OpenWith(id, k2, sealed, "/ws/datastores/d"); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("opened after rotation: %q, %v", got, err)
	}
	if _, err := dk.OpenWith(id, k2, sealed, "/ws/datastores/other"); err == nil {
		t.Error("a value opened for another holder")
	}
	if _, err := dk.Open(sealed, "/ws/datastores/d"); err == nil || !strings.Contains(err.Error(), id) {
		t.Errorf("the store key opened a workspace value: %v", err)
	}
	storeSealed, _ := dk.Seal(plain, "/x")
	if _, err := dk.OpenWith(id, key, storeSealed, "/x"); err == nil {
		t.Error("the workspace key opened a store value")
	}
}
