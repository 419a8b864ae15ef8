// Package policyres builds and reads the Microsoft.Authorization policy
// resources mlgov serves: policyDefinitions and policySetDefinitions (at
// subscription scope), policyAssignments and policyExemptions (at
// subscription, resource-group and resource scope).
//
// The write path calls one Build function per type with the request body,
// the target resource id, the stored body (Undefined on create) and a
// Resolver for the resources the body refers to; it gets back the
// normalized stored "properties" or an *arm.Error with a stable code and a
// JSON pointer into the request body as Target. The evaluator reads stored
// assignments and exemptions through ParseAssignment and ParseExemption.
//
// Invariants: nothing here writes; every refusal is an *arm.Error (codes
// below, Azure's where known), other errors come from the Resolver and
// mean the lookup itself failed. It imports arm and policy/..., never
// resources, api, cli or a store.
package policyres
