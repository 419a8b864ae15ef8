// Package policy is the engine's public face: Compile turns a policy
// definition (package definition) and an assignment's parameter values into
// an immutable Program; Program.Evaluate evaluates it against one resource
// and returns the effect, the evaluated details and, on request, every
// evaluated condition. CompileSet expands initiatives; Index groups programs
// by resource type. Apply carries out a Modify or Append result on a request
// body; ApplyAll does so for several programs and settles their conflicts.
//
// Phases are separate: parse (definition) → compile (operator dispatch,
// alias resolution, parameter binding, constant folding, like/match
// patterns, type index) → evaluate. Evaluation does no name lookups by
// operator, no reflection and no fmt; a definition that does not apply to a
// resource is rejected without allocating.
//
// Invariants: Programs are safe for concurrent use; evaluation never
// panics (errors are values in Result.Err); AuditIfNotExists and
// DeployIfNotExists existence checks go through the caller's Lookup.
//
// It imports only the standard library and policy/{alias,definition,expr,
// value}; never store, api, net/http, database/sql or log/slog. The
// decisions taken where Azure's documentation is silent are in
// docs/policy-semantics.md.
package policy
