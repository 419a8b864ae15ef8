// Package postgres implements store.Store on PostgreSQL with pgx
// (github.com/jackc/pgx/v5, pgxpool directly, no database/sql). It is the
// store for several stateless `mlgov serve` replicas sharing one
// database.
//
// Transactions: Write runs at READ COMMITTED; GetResource with forUpdate
// takes a row lock (SELECT ... FOR UPDATE), so an If-Match
// read-check-write is race-free, and DueOperations inside Write locks the
// operations it returns with FOR UPDATE SKIP LOCKED, so that concurrent
// workers on different replicas never get the same operation. A Write
// that fails with a serialization failure (40001) or a deadlock (40P01)
// is rolled back and fn runs again, a bounded number of times, so fn must
// not have side effects outside the transaction. Read runs at REPEATABLE
// READ, READ ONLY: one consistent snapshot.
//
// Schema: embedded, versioned migrations (migrations/*.sql) applied in
// file-name order, one transaction per file, each starting with
// pg_advisory_xact_lock so that replicas starting together apply them
// once; tables are created in the connection's search_path. The SQL is
// portable (no extensions); key columns use COLLATE "C" so ordering and
// key-prefix ranges are byte-wise, as in store/sqlite.
//
// Invariants: Seq comes from the sequence resource_seq: strictly
// increasing in the order writes take it and never reused, but two
// concurrent transactions may commit in the other order, so a reader
// polling "seq > last seen" must allow for a commit that lands behind it
// (store/feed does: it waits for the gap, then fills it); deletes take a
// number too, and every write records its change in its own statement;
// timestamps are TIMESTAMPTZ (microseconds) and come back in UTC;
// replacing a resource keeps the ID casing first written (PutResource sets
// r.ID to it).
//
// The statements of store.Tx and the scanning of their rows are
// store/internal/generic's, shared with store/sqlite; tx.go holds only the
// Querier over pgx.Tx and the pipelined AppendEvents.
//
// It imports store, store/internal/generic, store/internal/sqlq and pgx;
// it must not import database/sql drivers, other backends, services or
// net/http.
package postgres
