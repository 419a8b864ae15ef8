// Package govern joins the policy engine to the control plane: it serves
// the Microsoft.Authorization policy resources (policyDefinitions,
// policySetDefinitions, policyAssignments, policyExemptions) as resource
// types of the write path, and enforces the assignments on every write as
// the write path's admission plugins (Append and Modify in the mutating
// chain; Deny, DenyAction and Audit in the validating chain), with
// Azure's order, bodies and activity-log events.
//
// The assignments in force are compiled once into a snapshot that is
// rebuilt when a policy resource changes: at once after a local commit
// (the write path's notify stage), and from the store's change feed for
// the writes of other replicas (and once when the feed starts, for those
// committed before it). The scan that re-evaluates a changed policy
// resource's scope is named after the change, so all replicas start the
// same one. The snapshot's version is the admission
// version the write path checks before reusing a write prepared before
// its lock.
//
// Invariants: a request sees one snapshot from start to end; an
// assignment that cannot be compiled any more (its definition deleted)
// refuses the writes it covers with a clear error instead of being
// skipped, as an evaluation error does; DoNotEnforce assignments and
// exempt resources are never blocked or changed.
package govern
