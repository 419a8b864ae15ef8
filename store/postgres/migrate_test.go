package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/postgres/pgtest"
	"github.com/mlgov/mlgov/store/storetest"
)

// TestPolicyKeysMigration: migration 0009 turns the keys of the records
// written before it into ids, computing them in SQL as Go does.
func TestPolicyKeysMigration(t *testing.T) {
	storetest.PolicyKeysMigration(t, func(t *testing.T, records []*store.PolicyState) store.Store {
		ctx := context.Background()
		u := pgtest.SchemaURL(t)
		pool, err := pgxpool.New(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if err := migrateBefore(ctx, pool, "0009_policy_keys.sql"); err != nil {
			t.Fatal(err)
		}
		for _, s := range records {
			if _, err := pool.Exec(ctx, `INSERT INTO policy_states (resource_key, assignment_key, reference_key,
				subscription_key, resource_group_key, resource_type_key, definition_key, set_key, state, action, ts, body)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, s.ResourceKey, s.AssignmentKey, s.ReferenceKey,
				s.SubscriptionKey, s.ResourceGroupKey, s.ResourceTypeKey, s.DefinitionKey, s.SetKey, s.State, s.Action,
				s.Timestamp, s.Body); err != nil {
				t.Fatal(err)
			}
		}
		pool.Close()
		db, err := Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestPolicyKeyCollision: a collision of the ids of two keys is refused.
func TestPolicyKeyCollision(t *testing.T) {
	db, err := Open(t.Context(), pgtest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.PolicyKeyCollision(t, db, func(t *testing.T, id int64, name string) {
		if err := db.Write(t.Context(), func(x store.Tx) error {
			_, err := x.(*tx).Exec(t.Context(), `INSERT INTO policy_keys (id, name) VALUES ($1, $2)`, id, name)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}
