// Package generic is the one SQL implementation of store.Tx that the SQL
// backends (store/sqlite and store/postgres) share, after kine's
// pkg/drivers/generic: every statement of the store and the scanning of
// its rows are written here once, in SQLite's placeholder style, and
// rendered for a backend by Dialect.
//
// A backend supplies what truly differs: a Querier over its transaction
// (database/sql or pgx), its Dialect (placeholders, time encoding, row
// locks, how resource_seq is allocated, its no-rows error and error
// wrapping), and its own versions of the few methods that need more (the
// SQLite store's resource cache and in-memory sequence; PostgreSQL's
// pipelined AppendEvents). It embeds Tx and overrides those methods.
//
// The compliance records and scan tasks (policystates.go) are written the
// same way; their dynamic queries are built by sqlq.ListPolicyStates and
// sqlq.CountPolicyStates, and a Querier that is also a Copier (PostgreSQL)
// bulk-loads a scan's batch.
//
// PutResource and DeleteResource record the change (the changes table)
// themselves: with Dialect.NextSeq in the write's own statement (a
// data-modifying WITH clause), otherwise with an insert after it, under
// the number the backend allocated (PutResourceSeq, DeleteResourceSeq).
//
// It imports only the standard library, store and store/internal/sqlq; it
// must not import a driver or database/sql.
package generic
