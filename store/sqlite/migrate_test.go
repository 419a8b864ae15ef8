package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/storetest"
)

// TestPolicyKeysMigration: migration 0009 turns the keys of the records
// written before it into ids.
func TestPolicyKeysMigration(t *testing.T) {
	storetest.PolicyKeysMigration(t, func(t *testing.T, records []*store.PolicyState) store.Store {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "mlgov.db")
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if err := migrateBefore(ctx, raw, "0009_policy_keys.sql"); err != nil {
			t.Fatal(err)
		}
		for _, s := range records {
			if _, err := raw.ExecContext(ctx, `INSERT INTO policy_states (resource_key, assignment_key, reference_key,
				subscription_key, resource_group_key, resource_type_key, definition_key, set_key, state, action, ts, body)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.ResourceKey, s.AssignmentKey, s.ReferenceKey,
				s.SubscriptionKey, s.ResourceGroupKey, s.ResourceTypeKey, s.DefinitionKey, s.SetKey, s.State, s.Action,
				s.Timestamp.UnixMicro(), s.Body); err != nil {
				t.Fatal(err)
			}
		}
		raw.Close()
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestPolicyKeyCollision: a collision of the ids of two keys is refused.
func TestPolicyKeyCollision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mlgov.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.PolicyKeyCollision(t, db, func(t *testing.T, id int64, name string) {
		if err := db.Write(t.Context(), func(x store.Tx) error {
			_, err := x.(*tx).Exec(t.Context(), `INSERT INTO policy_keys (id, name) VALUES (?, ?)`, id, name)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}
