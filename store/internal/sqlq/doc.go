// Package sqlq holds the SQL-building pieces under store/internal/generic
// (the SQL the two SQL backends share), so that both give the same
// answers to the same store.ListQuery and store.EventQuery: the dynamic
// WHERE clauses of ListResources and ListEvents, the key-range bound that
// turns a KeyPrefix into an index range scan, and the rendering of ?
// placeholders in a dialect's style.
//
// Invariants: the builders only append conditions joined by AND and bind
// every caller-supplied value as a parameter (no value is ever spliced
// into SQL text); key comparisons are byte-wise (SQLite's BINARY collation,
// PostgreSQL's COLLATE "C" on the key columns), which orders UTF-8 strings
// by code point.
//
// It imports only the standard library and store; it must not import a
// driver or database/sql.
package sqlq
