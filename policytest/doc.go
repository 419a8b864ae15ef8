// Package policytest runs policy test files: mlgov's own format
// (kind: mlgov.policytest/v1), the regorus YAML case format (policy cases and
// template-function cases) and the azure-policy-evaluator folder format
// (azurepolicy.json + tests/<name>-<effect>.json).
//
// It reports one Outcome per case. It imports the policy engine and a YAML
// decoder; the engine itself (policy/...) never imports this package.
package policytest
