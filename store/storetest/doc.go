// Package storetest is the conformance suite every store.Store
// implementation must pass (the litestream/wtf pattern: one suite, run by
// each backend's own tests against a real database).
//
// Run checks the behaviour the services rely on: CRUD and ErrNotFound
// wrapping, stored-ID casing, rejection of empty and non-UTF-8 keys, listing by every ListQuery field with
// key-ordered paging and key-prefix ranges, the change sequence, atomicity
// of Write (resources, events, operations and objects roll back
// together, on error and on panic), read-your-writes, read-only Read,
// no lost update under concurrent read-modify-write with forUpdate,
// exclusive DueOperations hand-out, event filtering and paging,
// timestamps (UTC, microseconds), context cancellation, ErrClosed after
// Close, and persistence across Close and a new Open. Benchmark measures
// Put and Get.
//
// Invariants: the suite only uses the store package's interfaces; every
// subtest works on its own database obtained from the open function, so
// backends may run subtests in parallel.
//
// It is a test helper: it imports testing and go-cmp, and must never be
// imported by non-test code.
package storetest
