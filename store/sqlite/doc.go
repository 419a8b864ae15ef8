// Package sqlite implements store.Store on an embedded SQLite database
// (modernc.org/sqlite: pure Go, no cgo) through database/sql. It is the
// default store of a single `mlgov serve` process: one file in the data
// directory.
//
// Connections: one write connection, held for the DB's life, whose
// transactions start with BEGIN IMMEDIATE (they take SQLite's write lock
// up front, so a read-then-write transaction can never fail to upgrade),
// and a fixed set of query-only read connections for Read. Every
// connection keeps its statements prepared (parsing SQL costs more than
// running most of these statements). The database runs in WAL mode, so
// readers never block the writer and see the last committed snapshot for
// the whole of a Read.
//
// Group commit: concurrent Writes share one SQLite transaction on the
// write connection; each fn runs alone inside a SAVEPOINT that is rolled
// back if fn fails or panics, and the transaction commits when no other
// writer is waiting or it is 64 Writes or 4ms old (WithGroupCommit). A
// Write returns after the commit that holds its changes, so what a Write
// acknowledges is as durable as with one transaction per Write; Writes of
// a group see the changes of the earlier ones, which commit with them or
// not at all, so the outcome is that of the Writes one after the other.
// Statements of a Write do not stop when its context is canceled (an
// interrupted statement would roll back the whole group); Write checks
// the context before and after fn instead.
//
// One process at a time: Open takes an exclusive lock (flock) on
// PATH.lock, so a second `mlgov serve` on the same data directory fails at
// once with an error naming the lock, and a killed process releases it
// with its life. WithSharedFile takes a shared lock instead, for DBs that
// all agree to share the file.
//
// Committed-resource cache: GetResources (store.ResourceGetter, what an
// ARM GET uses) answers from memory when it can. Every commit drops the
// keys its group wrote and brackets the COMMIT with a generation counter
// (odd while a commit is in flight); a lookup answers only if the
// generation was even and unchanged across it, and a Read that missed
// fills the cache only if no commit began since it started. So a lookup
// returns one committed state, and never one older than a Write that had
// returned (storetest's GetResourcesCoherent). The cache needs the
// exclusive lock (no other writer) and is off with WithSharedFile. It is
// bounded (65536 entries, 64 MiB).
//
// The write connection remembers the resources it read (GetResource),
// dropping a key when it is written or deleted, everything when a
// savepoint or group rolls back, and everything when another connection
// (another process) has committed (PRAGMA data_version, checked as each
// group begins).
//
// Checkpoints: a background connection copies the WAL into the database
// file (passive checkpoints, every 50ms while there are commits), so that
// commits do not; past 4000 WAL pages it takes the write lock briefly so
// that the WAL can start over. The write connection still checkpoints by
// itself past 20000 pages.
//
// Durability: journal_mode=WAL with synchronous=NORMAL (the default). A
// commit has written its WAL frames to the file (write(2)) before Write
// returns; the fsync happens at checkpoints only. A committed write
// therefore survives a crash of the process, SIGKILL included (the data
// is in the kernel's page cache and SQLite replays the WAL on the next
// open; TestCrashDurability kills a writer with SIGKILL and checks every
// acknowledged commit), but the last transactions before an operating
// system crash or power loss may roll back (the database stays
// consistent). WithSynchronous(SyncFull) fsyncs the WAL on every commit
// when that matters more than write latency.
//
// Invariants: Seq comes from a counter that only the write connection
// advances (in memory in exclusive mode, starting from the counters row,
// which Open brings up to the newest change; with WithSharedFile the
// newest change's Seq plus one, read in the write transaction: the newest
// change is never pruned and has the number of the last write),
// so it is strictly increasing in commit order and a committed number is
// never used again, deletes and restarts included; the change feed's
// numbers (the same) have no gaps, since a Write that rolls back gives
// its numbers back;
// timestamps are stored as INTEGER microseconds
// since the Unix epoch and come back in UTC; keys compare byte-wise;
// GetResource's forUpdate needs no lock here (there is only one writer);
// resource keys must be valid UTF-8 (as in PostgreSQL), and replacing a
// resource keeps the ID casing first written (PutResource sets r.ID to
// it).
// A Write's fn must not call Write on the same DB (it would wait for the
// one write connection forever).
//
// The statements of store.Tx and the scanning of their rows are
// store/internal/generic's, shared with store/postgres; tx.go holds only
// what SQLite does differently: the Querier over the connection's prepared
// statements, the resource cache, the keys written and the sequence
// counter.
//
// It imports store, store/internal/generic, store/internal/sqlq,
// database/sql and modernc.org/sqlite; it must not import other backends,
// services or net/http.
package sqlite
