// Package expr is the ARM template-expression language as Azure Policy uses
// it ("[concat(parameters('p'), field('name'))]"): lexer and parser (AST with
// byte offsets), a compiler that resolves every function at compile time and
// folds constant calls, and the library of ARM template functions allowed in
// policy rules.
//
// Invariants: compiled expressions (Evaluable) are immutable and safe for
// concurrent use; per-evaluation state lives in an Activation; evaluation
// never panics — failures are *EvalError values naming the function; string
// and array results are bounded (131,072 characters/elements).
//
// Policy functions (field, parameters, current, requestContext,
// resourceGroup, subscription, policy) are bound by the caller through a
// Binder. It imports only the standard library and policy/value.
package expr
