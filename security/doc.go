// Package security records vulnerability findings as Azure's
// Microsoft.Security/assessments and their sub-assessments.
//
// It reads the JSON reports of Trivy (`trivy image -f json`) and Grype
// (`grype -o json`) into one Import (ParseReport: the image, its
// findings keyed by vulnerability and package), and serves the types on
// the write path (Register): assessments, extension resources of the
// assessed resource ({id}/providers/Microsoft.Security/assessments/{name},
// written by PUT like Azure's custom assessments), their read-only
// subAssessments children, and the lists at a scope. An assessment's
// importFindings action (Microsoft.Security/assessments/importFindings/action)
// records an Import: each finding a sub-assessment (Unhealthy), each
// earlier finding of the same image that the report no longer has
// resolved (Healthy, with the time), never deleted; the assessment's
// status is Unhealthy while a finding at or above the import's minimum
// severity is unresolved, else Healthy.
//
// Invariants: a sub-assessment's name is derived from (image,
// vulnerability, package), so the same finding is the same resource in
// every report; a report resolves findings of its own image only.
//
// It imports resources, arm, store (types only) and policy/value; never
// net/http, a concrete store or the CLI.
package security
