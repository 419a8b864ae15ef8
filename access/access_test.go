package access

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlgov/mlgov/store/sqlite"
)

// TestOwnerRole: the administrators' Owner is the built-in role of the
// roles file when it has one, and a role of the same GUID when there is
// no file.
func TestOwnerRole(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	roles := benchRoles(t)
	a := New(st, Config{Roles: roles, Admins: []string{benchAdmin}})
	if len(a.cfg.Roles) != len(roles) {
		t.Errorf("the roles file's Owner was not found: %d roles held, %d read", len(a.cfg.Roles), len(roles))
	}
	none := New(st, Config{Admins: []string{benchAdmin}})
	if err := none.Load(ctx); err != nil {
		t.Fatal(err)
	}
	d, ok := none.Role(ctx, OwnerRole)
	if !ok || d.RoleName != "Owner" {
		t.Fatalf("without a roles file: Owner %v %v", d, ok)
	}
	dec, err := none.Decider(ctx, nil)
	if err != nil || dec.Allowed("Microsoft.Storage/storageAccounts/read", "/subscriptions/"+benchSub) {
		t.Errorf("a caller without an object id is allowed (%v)", err)
	}
}
