// Package arm holds Azure Resource Manager primitives: resource IDs
// (parse, format, case-insensitive keys, parents, types), name rules,
// locations and the domain error type with stable ARM codes.
//
// Invariants: IDs keep the casing they were given and compare through Key
// (KeyOf: ARM's ordinal ignore-case, lower case for ordinary letters); parsing never panics and reports InvalidResourceId errors.
// It imports only the standard library; everything may import it.
package arm
