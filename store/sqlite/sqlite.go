package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/mlgov/mlgov/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Synchronous is SQLite's synchronous setting for the write connection.
type Synchronous string

const (
	// SyncNormal fsyncs at checkpoints only: committed writes survive a
	// process crash but the last ones may roll back after an OS crash or
	// power loss.
	SyncNormal Synchronous = "NORMAL"
	// SyncFull also fsyncs the WAL at every commit: committed writes
	// survive power loss, at the cost of one fsync per Write.
	SyncFull Synchronous = "FULL"
)

// Option changes a setting of Open.
type Option func(*config)

type config struct {
	busyTimeout  time.Duration
	synchronous  Synchronous
	maxReadConns int
	group        groupConfig
	shared       bool
}

// groupConfig bounds a group transaction (see DB.Write).
type groupConfig struct {
	maxTx  int
	maxAge time.Duration
}

// WithBusyTimeout sets how long a connection waits for a lock held by
// another process before failing with SQLITE_BUSY (default 5s).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithSynchronous sets the synchronous level of the write connection
// (default SyncNormal).
func WithSynchronous(s Synchronous) Option { return func(c *config) { c.synchronous = s } }

// WithMaxReadConns sets the number of read connections (default
// max(4, GOMAXPROCS)).
func WithMaxReadConns(n int) Option { return func(c *config) { c.maxReadConns = n } }

// WithSharedFile lets several processes (or DBs) that all open the file
// with WithSharedFile use it at once. By default Open takes an exclusive
// lock on PATH.lock, fails while anyone else holds it, and serves reads
// of single resources from a cache of committed state; with
// WithSharedFile the lock is shared and there is no such cache (every
// read is a transaction).
func WithSharedFile() Option { return func(c *config) { c.shared = true } }

// WithGroupCommit bounds the group transactions that concurrent Writes
// share (default 64 Writes, 4ms); maxTx 1 gives one transaction per
// Write.
func WithGroupCommit(maxTx int, maxAge time.Duration) Option {
	return func(c *config) { c.group = groupConfig{maxTx: max(1, maxTx), maxAge: maxAge} }
}

// DB is a store.Store on one SQLite database file. It is safe for
// concurrent use.
type DB struct {
	path   string
	write  *sql.DB // exactly one connection, held by wconn
	read   *sql.DB // query-only connections, held by the conns in rconns
	closed atomic.Bool

	// wsem is held by the goroutine using the write connection.
	wsem  chan struct{}
	wconn *conn
	// batch is the open group transaction (guarded by wsem); pending
	// counts the writers waiting for wsem or running fn.
	batch   *batch
	pending atomic.Int64
	group   groupConfig
	cache   resCache // guarded by wsem

	// rc is the committed-resource cache (GetResources); lock holds the
	// exclusive lock on the database that makes it safe.
	rc   committed
	lock *os.File
	// seq is the last resource Seq handed out, in exclusive mode (guarded
	// by wsem); memSeq tells whether it is used.
	seq    int64
	memSeq bool

	rconns chan *conn // idle read connections
	nread  int        // read connections opened
	quit   chan struct{}

	// ckpt checkpoints the WAL in the background (see checkpointer).
	ckpt     *sql.DB
	ckptDone chan struct{}
	commits  atomic.Int64
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and brings
// its schema up to date. path must name a file: an in-memory database
// cannot be shared by the write and read pools.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	cfg := config{busyTimeout: 5 * time.Second, synchronous: SyncNormal, maxReadConns: max(4, runtime.GOMAXPROCS(0)),
		group: groupConfig{maxTx: 64, maxAge: 4 * time.Millisecond}}
	for _, o := range opts {
		o(&cfg)
	}
	switch cfg.synchronous {
	case SyncNormal, SyncFull:
	default:
		return nil, fmt.Errorf("sqlite: synchronous %q: want NORMAL or FULL", cfg.synchronous)
	}
	if cfg.maxReadConns < 1 {
		cfg.maxReadConns = 1
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	// The database holds secrets (signing keys, bootstrap state): create
	// it readable by its owner only. SQLite gives the -wal and -shm files
	// the mode of the database file.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	} else {
		f.Close()
	}

	// One process at a time unless shared: the committed-resource cache
	// assumes no other writer.
	lock, locked, err := lockFile(abs+".lock", !cfg.shared)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	unlock := func() {
		if lock != nil {
			lock.Close()
		}
	}

	common := url.Values{}
	common.Set("_busy_timeout", strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10))
	common.Set("_foreign_keys", "1")

	wq := cloneValues(common)
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", string(cfg.synchronous))
	wq.Set("_txlock", "immediate")
	write, err := openPool(abs, wq)
	if err != nil {
		unlock()
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	// The write connection opens first: it switches the file to WAL
	// (a persistent setting) before any reader connects.
	if err := migrate(ctx, write); err != nil {
		write.Close()
		unlock()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	rq := cloneValues(common)
	rq.Set("_query_only", "1")
	read, err := openPool(abs, rq)
	if err != nil {
		write.Close()
		unlock()
		return nil, err
	}
	read.SetMaxOpenConns(cfg.maxReadConns)
	read.SetMaxIdleConns(cfg.maxReadConns)
	read.SetConnMaxLifetime(0)
	read.SetConnMaxIdleTime(0)
	db := &DB{path: path, write: write, read: read, wsem: make(chan struct{}, 1), group: cfg.group,
		rconns: make(chan *conn, cfg.maxReadConns), quit: make(chan struct{}), lock: lock}
	db.rc.enabled = locked && !cfg.shared
	// The counters row is behind the last number used if an exclusive DB
	// (which keeps the counter in memory) did not close: the change of
	// the last write has that number (PruneChanges leaves the newest
	// change alone). No exclusive DB can be writing now.
	readSeq := `SELECT value FROM counters WHERE name = 'resource_seq'`
	if _, err := write.ExecContext(ctx, syncSeq); err != nil {
		var se *msqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqliteFull {
			write.Close()
			read.Close()
			unlock()
			return nil, fmt.Errorf("sqlite: open %q: updating the resource sequence: %w", path, err)
		}
		// A full disk: the counters row stays behind until a write
		// succeeds (every write fails until space is freed; reads go on),
		// and the number comes from the newest change.
		readSeq = `SELECT MAX((SELECT value FROM counters WHERE name = 'resource_seq'), (SELECT COALESCE(MAX(seq), 0) FROM changes))`
	}
	if db.rc.enabled {
		if err := write.QueryRowContext(ctx, readSeq).Scan(&db.seq); err != nil {
			write.Close()
			read.Close()
			unlock()
			return nil, fmt.Errorf("sqlite: open %q: reading the resource sequence: %w", path, err)
		}
		db.memSeq = true
	}
	fail := func(err error) (*DB, error) {
		db.closeConns()
		read.Close()
		write.Close()
		unlock()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	wc, err := write.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	db.wconn = newConn(wc)
	// A group transaction runs each Write in a savepoint, whose
	// sub-journal goes to a temporary file unless temporary storage is
	// in memory.
	if err := db.wconn.exec(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		return fail(err)
	}
	if err := db.wconn.exec(ctx, "PRAGMA wal_autocheckpoint = "+strconv.Itoa(walBackstop)); err != nil {
		return fail(err)
	}
	for range cfg.maxReadConns {
		rc, err := read.Conn(ctx)
		if err != nil {
			return fail(err)
		}
		db.rconns <- newConn(rc)
		db.nread++
	}
	if db.ckpt, err = openPool(abs, cloneValues(common)); err != nil {
		return fail(err)
	}
	db.ckpt.SetMaxOpenConns(1)
	db.ckpt.SetMaxIdleConns(1)
	db.ckpt.SetConnMaxLifetime(0)
	db.ckpt.SetConnMaxIdleTime(0)
	if err := db.ckpt.PingContext(ctx); err != nil {
		db.ckpt.Close()
		return fail(err)
	}
	db.ckptDone = make(chan struct{})
	go db.checkpointer(checkpointEvery)
	return db, nil
}

// checkpointEvery is how often the background checkpointer runs while
// there are new commits.
const checkpointEvery = 50 * time.Millisecond

// walRestartFrames is the WAL length (frames, that is pages) past which
// the checkpointer makes the WAL start over (see checkpointer).
const walRestartFrames = 4000

// walBackstop is the WAL length (pages) at which the write connection
// checkpoints by itself, should the background checkpointer fall behind.
const walBackstop = 20000

// checkpointer copies committed WAL frames into the database file
// (PRAGMA wal_checkpoint(PASSIVE)) from its own connection, so that
// commits on the write connection do not do it, with its writes and its
// fsync, while every writer waits. A passive checkpoint runs beside the
// writer and the readers and never blocks them.
//
// Under a steady stream of commits such a checkpoint never catches up
// with the end of the WAL, and SQLite starts the WAL over only when it
// has, before a write transaction begins: so once the WAL is longer than
// walRestartFrames, the checkpointer takes the write lock (between two
// Writes; it commits the open group transaction, whose Writes are done)
// for one more checkpoint, of the few frames written since the last one;
// the next write transaction then starts the WAL over (unless a Read
// still uses an old snapshot; then a later round does).
//
// None of this changes durability: a commit has its frames written to the
// WAL before Write returns, whoever checkpoints them later.
func (db *DB) checkpointer(every time.Duration) {
	defer close(db.ckptDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-db.quit:
			return
		case <-t.C:
		}
		if db.commits.Swap(0) == 0 {
			continue
		}
		// An error (SQLITE_BUSY while another process checkpoints, say)
		// is harmless: the next round, or the write connection's
		// backstop, checkpoints.
		frames, err := db.checkpoint()
		if err != nil || frames < walRestartFrames {
			continue
		}
		select {
		case db.wsem <- struct{}{}:
		case <-db.quit:
			return
		}
		if b := db.batch; b != nil {
			db.commitBatch(b) // its Writes are done: it can commit now
		}
		db.checkpoint()
		<-db.wsem
	}
}

// checkpoint runs a passive checkpoint and returns the length of the WAL.
func (db *DB) checkpoint() (frames int, err error) {
	var busy, checkpointed int
	err = db.ckpt.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &checkpointed)
	return frames, err
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func openPool(abs string, q url.Values) (*sql.DB, error) {
	// A file: URI with an escaped path, so that no character of the path
	// is taken for URI syntax; the driver consumes the _ parameters.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
	c, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", abs, err)
	}
	return sql.OpenDB(c), nil
}

// Path returns the path the database was opened with.
func (db *DB) Path() string { return db.path }

// Close closes both pools; transactions in flight finish first (an open
// group transaction commits). Using the DB afterwards returns
// store.ErrClosed; closing it again does nothing.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	close(db.quit)
	<-db.ckptDone
	db.wsem <- struct{}{}
	if b := db.batch; b != nil {
		db.commitBatch(b)
	}
	// The sequence lives in the changes table now, but a binary from
	// before it reads the counters row.
	err := db.wconn.exec(context.Background(), syncSeq)
	// Readers and the checkpointer first, so that the writer is the last
	// connection: it checkpoints the WAL into the database file as it
	// closes.
	err = errors.Join(err, db.closeConns())
	err = errors.Join(err, db.read.Close(), db.ckpt.Close(), db.write.Close())
	if db.lock != nil {
		err = errors.Join(err, db.lock.Close())
	}
	<-db.wsem // writers still queued see closed and return ErrClosed
	return err
}

// closeConns takes back every read connection (waiting for Reads in
// flight) and closes them, then the write connection.
func (db *DB) closeConns() error {
	var errs []error
	for range db.nread {
		errs = append(errs, (<-db.rconns).close())
	}
	if db.wconn != nil {
		errs = append(errs, db.wconn.close())
	}
	return errors.Join(errs...)
}

// Read runs fn in a read-only transaction on one of the read connections.
// fn sees one consistent snapshot of the database.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	if db.closed.Load() {
		return store.ErrClosed
	}
	var c *conn
	select {
	case c = <-db.rconns:
	case <-db.quit:
		return store.ErrClosed
	case <-ctx.Done():
		return wrapErr(ctx, "begin", ctx.Err())
	}
	defer func() { db.rconns <- c }()
	if db.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return wrapErr(ctx, "begin", err)
	}
	if err := c.exec(ctx, "BEGIN"); err != nil {
		return db.wrap(ctx, "begin", err)
	}
	done := false
	// Also covers a panic in fn: the connection goes back to the pool
	// without an open transaction.
	defer func() {
		if !done {
			c.exec(context.Background(), "ROLLBACK")
		}
	}()
	if err := fn(newReadTx(c)); err != nil {
		return err
	}
	done = true
	if err := c.exec(context.Background(), "COMMIT"); err != nil {
		c.exec(context.Background(), "ROLLBACK")
		return db.wrap(ctx, "commit", err)
	}
	return nil
}

// Write runs fn in a write transaction and commits it if fn returns nil.
//
// Group commit: concurrent Writes share one SQLite transaction on the one
// write connection. Each fn runs alone (writers are serialised, so fn is
// never retried) inside a SAVEPOINT, which is rolled back if fn fails or
// panics; the transaction commits when no other writer is waiting, or
// when it holds groupConfig.maxTx writes or is groupConfig.maxAge old.
// Write returns only after the commit that contains its changes (or with
// the error that prevented it), so an acknowledged Write is as durable as
// with one transaction per Write; a Write that fails leaves nothing
// behind. Writes of one group see the changes of the earlier ones, which
// commit with them or not at all: the result is that of running the
// Writes one after the other.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	if db.closed.Load() {
		return store.ErrClosed
	}
	db.pending.Add(1)
	db.wsem <- struct{}{}
	if db.closed.Load() {
		db.pending.Add(-1)
		<-db.wsem
		return store.ErrClosed
	}
	var fnErr error
	var panicked bool
	var pval any
	b := db.batch
	if err := ctx.Err(); err != nil {
		fnErr = wrapErr(ctx, "begin", err)
	} else {
		if b == nil {
			if err := db.begin(); err != nil {
				fnErr = db.wrap(ctx, "begin", err)
			} else {
				b = &batch{done: make(chan struct{}), started: time.Now()}
				db.batch = b
			}
		}
		if b != nil {
			fnErr, panicked, pval = db.runFn(ctx, b, fn)
		}
	}
	last := db.pending.Add(-1) == 0 || (b != nil && (b.n >= db.group.maxTx || time.Since(b.started) >= db.group.maxAge))
	var commitErr error
	waitFor := b
	if b != nil && db.batch == b && last {
		commitErr = db.commitBatch(b)
		waitFor = nil
	}
	<-db.wsem
	if panicked {
		panic(pval)
	}
	if fnErr != nil {
		return fnErr // its changes were rolled back: nothing to wait for
	}
	if waitFor != nil {
		<-waitFor.done
		commitErr = waitFor.err
	}
	if commitErr != nil {
		return db.wrap(ctx, "commit", commitErr)
	}
	return nil
}

// begin starts a group transaction (the caller holds wsem) and drops the
// resource cache if another connection has committed since the last one.
func (db *DB) begin() error {
	bg := context.Background()
	if err := db.wconn.exec(bg, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	s, err := db.wconn.stmt(bg, "PRAGMA data_version")
	var v int64
	if err == nil {
		err = s.QueryRowContext(bg).Scan(&v)
	}
	if err != nil {
		db.wconn.exec(bg, "ROLLBACK")
		return err
	}
	if v != db.cache.dataVersion {
		db.cache.clear()
		db.cache.dataVersion = v
	}
	return nil
}

// syncSeq brings the resource sequence counter up to the last change.
// sqliteFull is SQLITE_FULL, the primary result code of a full disk.
const sqliteFull = 13

const syncSeq = `UPDATE counters SET value = MAX(value, (SELECT COALESCE(MAX(seq), 0) FROM changes))
	WHERE name = 'resource_seq'`

// batch is a group transaction: the Writes that share one commit.
type batch struct {
	n int // successful Writes in it
	// keys are the resources it wrote (Writes rolled back included), for
	// the committed-resource cache.
	keys    map[string]struct{}
	started time.Time
	done    chan struct{} // closed after the commit (or its failure)
	err     error
}

// runFn runs fn inside a savepoint of the open group transaction b (the
// caller holds wsem). It returns fn's error (or the context's, or the
// error that broke the group), and whether fn panicked.
func (db *DB) runFn(ctx context.Context, b *batch, fn func(store.Tx) error) (fnErr error, panicked bool, pval any) {
	c := db.wconn
	bg := context.Background()
	// The first successful Write of a group runs without a savepoint:
	// the transaction holds nothing to keep, so a failure rolls all of
	// it back, and fn's writes are not copied to a sub-journal first.
	whole := b.n == 0
	if !whole {
		if err := c.exec(bg, "SAVEPOINT w"); err != nil {
			db.failBatch(b, err)
			return db.wrap(ctx, "begin", err), false, nil
		}
	}
	// The sequence numbers fn takes go back to the counter if its
	// savepoint rolls back: the change feed then sees no gap (which it
	// would wait for) where a Write failed.
	seq0 := db.seq
	func() {
		defer func() {
			if p := recover(); p != nil {
				panicked, pval = true, p
			}
		}()
		var seq *int64
		if db.memSeq {
			seq = &db.seq
		}
		fnErr = fn(newWriteTx(c, &db.cache, b, seq))
	}()
	if fnErr == nil && !panicked {
		if err := ctx.Err(); err != nil {
			fnErr = wrapErr(ctx, "commit", err)
		}
	}
	if fnErr != nil || panicked {
		db.cache.clear() // it may hold rows as fn changed them
		if whole {
			// Nobody waits for b: it has no successful Write.
			db.batch = nil
			c.exec(bg, "ROLLBACK")
			close(b.done)
			db.seq = seq0
			return fnErr, panicked, pval
		}
		if err := c.exec(bg, "ROLLBACK TO w"); err != nil {
			db.failBatch(b, err)
		} else if err := c.exec(bg, "RELEASE w"); err != nil {
			db.failBatch(b, err)
		} else {
			db.seq = seq0
		}
		return fnErr, panicked, pval
	}
	if whole {
		b.n++
		return nil, false, nil
	}
	if err := c.exec(bg, "RELEASE w"); err != nil {
		// The transaction is gone (SQLite rolls back on some errors):
		// every Write of the group fails.
		db.failBatch(b, err)
		return db.wrap(ctx, "commit", err), false, nil
	}
	b.n++
	return nil, false, nil
}

// commitBatch commits the group transaction b (the caller holds wsem) and
// tells its writers.
func (db *DB) commitBatch(b *batch) error {
	db.batch = nil
	db.rc.begin(b.keys)
	err := db.wconn.exec(context.Background(), "COMMIT")
	if err != nil {
		db.wconn.exec(context.Background(), "ROLLBACK")
		db.cache.clear()
	}
	db.rc.end(b.keys)
	b.err = err
	close(b.done)
	db.commits.Add(1)
	return err
}

// failBatch rolls the group transaction back after an error that broke it
// (the caller holds wsem); its writers get err.
func (db *DB) failBatch(b *batch, err error) {
	if db.batch != b {
		return
	}
	db.batch = nil
	db.wconn.exec(context.Background(), "ROLLBACK")
	db.cache.clear()
	b.err = fmt.Errorf("group transaction rolled back: %w", err)
	close(b.done)
}

// wrap annotates a driver error, making store.ErrClosed and context
// errors visible to errors.Is.
func (db *DB) wrap(ctx context.Context, op string, err error) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrClosed)
	}
	return wrapErr(ctx, op, err)
}

func wrapErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, in file-name order, one transaction per file. The
// write pool's BEGIN IMMEDIATE serialises concurrent openers, other
// processes included.
func migrate(ctx context.Context, db *sql.DB) error { return migrateBefore(ctx, db, "") }

// migrateBefore applies the migrations whose file names sort before
// before (all of them if it is empty).
func migrateBefore(ctx context.Context, db *sql.DB, before string) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if before != "" && filepath.Base(name) >= before {
			break
		}
		if err := migrateFile(ctx, db, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func migrateFile(ctx context.Context, db *sql.DB, name string) error {
	version := strings.TrimSuffix(filepath.Base(name), ".sql")
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT    NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		version, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}
