// Package template is the ARM deployment-template language (schemas
// 2015-01-01 and 2019-04-01 deploymentTemplate.json and
// subscriptionDeploymentTemplate.json): it parses a template, checks its
// structure, binds parameter values, evaluates variables and resources
// (copy loops, conditions, child resources, dependsOn) against a
// deployment Context and returns a Plan: the resources to write, each with
// its full id, evaluated body and resolved dependencies, in an order that
// respects dependsOn and serial copy batches. Outputs are evaluated from
// the Plan afterwards, when the resources exist.
//
// Expressions are compiled by policy/expr; this package binds the
// template-only functions (parameters, variables, copyIndex, resourceId and
// its scope variants, resourceGroup, subscription, tenant, deployment,
// environment, reference, list*, newGuid, utcNow). reference() and list*()
// reach the live store only through the Resolver the caller implements.
//
// Invariants: pure (no HTTP, no store, no clock or randomness except
// through Context); every error is an *Error naming the template location
// as a JSON pointer and, for expression errors, the function. A Plan is
// not safe for concurrent use.
//
// It imports only the standard library and policy/expr, policy/value.
package template
