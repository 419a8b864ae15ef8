// Package feed follows the change feed of a store (store.Change, the
// changes table every resource write records in its own transaction) and
// hands the changes, in Seq order, to the subscribers in this process:
// compliance evaluation, caches. Every replica that shares the database
// runs a Feed of its own and so sees every replica's writes.
//
// A Feed polls Tx.Changes after the last Seq it delivered, every
// Options.Interval, and at once when Notify is called (the write path
// calls it after a local commit, so that local subscribers see a change
// in milliseconds rather than at the next poll). This is kine's
// poll-after-revision watch.
//
// Invariants:
//   - subscribers get every change committed after Run started, once, in
//     increasing Seq order, one batch at a time; a Feed never skips a
//     committed change and never delivers fillers;
//   - a gap in Seq (a number taken by a transaction that has not
//     committed yet, which PostgreSQL allows, or by one that rolled back)
//     holds back the changes after it: the Feed polls again until the gap
//     closes or Options.GapTimeout has passed; then it calls
//     Tx.FillChanges, which waits for a transaction still holding the
//     number and records a filler only if it rolled back, so that a late
//     commit is delivered and not lost;
//   - Run starts after the last change at its start (Tx.LastChangeSeq):
//     changes committed before are not delivered. On PostgreSQL a
//     transaction that took a number below that, and commits after, is
//     not delivered either: a consumer that needs every change reads the
//     whole state once after the Feed is Ready and then follows the feed
//     (its handling of a change must not depend on having seen the
//     previous ones);
//   - changes pruned (Tx.PruneChanges) before a Feed read them are lost
//     to it (it fills their numbers after the gap timeout): prune only
//     changes far older than any Feed can lag (minutes, not
//     milliseconds);
//   - subscribers run on Run's goroutine: a slow subscriber slows the
//     feed down (nothing is dropped or buffered without bound). They
//     must not modify the batch, which all of them share.
//
// It imports only the standard library and store.
package feed
