// Package definition is the wire model of Azure Policy documents: policy
// definitions, initiatives (policy set definitions) and bare policy rules,
// loaded from JSON in every shape found in the wild, with their parameter
// declarations.
//
// Invariants: loading never panics; every problem is reported as an *Error
// with a stable Code and the JSON pointer (RFC 6901) of the bad part, all
// problems of a document together (ErrorList). Rules are kept as raw values
// here; package policy compiles them.
//
// It imports only the standard library and policy/value; never policy,
// store, api or net/http.
package definition
