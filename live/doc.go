// Package live is the dashboard's change stream: what changes in the
// control plane, pushed to the subscribers that may read it. A Hub takes
// its events from three sources, on every replica:
//
//   - resources written or deleted: the store's change feed (Follow), so
//     that other replicas' writes arrive too;
//   - a resource's compliance records written: the Governor's hook
//     (Compliance), called by every replica's re-evaluation of a changed
//     resource;
//   - activity-log events (a write refused by policy among them): the
//     events table followed by Seq (RunEvents), as the feed follows the
//     changes, so other replicas' events arrive too.
//
// Each event is offered to a subscriber only if the subscriber's scope
// holds it and the caller's RBAC Decider allows its read (a resource's
// {type}/read at the resource; the activity log's
// Microsoft.Insights/eventtypes/values/read where the API checks it);
// a subscriber whose bounded queue is full is dropped, never waited for.
//
// Invariants: publishing never blocks; an event is encoded once for all
// subscribers. It imports resources, arm, activitylog and the store
// interfaces (and store/feed), never net/http: api writes the stream.
package live
