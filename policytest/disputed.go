package policytest

import (
	"path/filepath"
	"strings"
)

// DisputedCases lists the peer cases whose expectation mlgov believes wrong,
// with the reason (docs/policy-semantics.md): "file: case" for a case of a
// case file, or a bare name for an azure-policy-evaluator sample. With
// Runner.Disputed their failures are reported as Disputed, not Fail.
var DisputedCases = map[string]string{
	// regorus: these two functions are allowed by Azure Policy (policy-language.md §9.3).
	"parse_errors.yaml: guid_compile_error":         "guid() is an allowed ARM function in Azure Policy",
	"parse_errors.yaml: uniquestring_compile_error": "uniqueString() is an allowed ARM function in Azure Policy",
	// regorus's harness returns its context string verbatim; mlgov's utcNow() uses Azure's format.
	"template_functions_datetime_ip.yaml: utcNow_returns_context_timestamp": "utcNow() returns yyyy-MM-ddTHH:mm:ss.fffffffZ",
	// Documented Azure behaviour: invalid IP ranges fail evaluation.
	"ip_range_contains.yaml: ip_invalid_range":  "ipRangeContains with an invalid range is an evaluation failure in Azure",
	"ip_range_contains.yaml: ip_invalid_target": "ipRangeContains with an invalid range is an evaluation failure in Azure",
	// ARM createObject takes string keys.
	"create_object.yaml: create_object_numeric_key": "createObject keys must be strings in ARM",
	// azure-policy-evaluator: a condition over an empty [*] collection is true (Azure docs).
	"kv-iprules-with-allow-none": "vacuous truth over an empty virtualNetworkRules array",
	"kv-iprules-with-deny-none":  "vacuous truth over an empty virtualNetworkRules array",
}

// DisputedReason returns why o's case is disputed, if it is.
func DisputedReason(o Outcome) (string, bool) {
	for k, why := range DisputedCases {
		file, cs, _ := strings.Cut(k, ": ")
		if cs == "" {
			if o.Case == file {
				return why, true
			}
			continue
		}
		if filepath.Base(o.File) == file && o.Case == cs {
			return why, true
		}
	}
	return "", false
}
