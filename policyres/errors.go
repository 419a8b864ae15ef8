package policyres

import (
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// Error codes. Azure's where its service is known to use them (its own
// SDK tests and error payloads quoted in public material); the ones marked
// mlgov are ours where Azure's is not known.
const (
	// CodeInvalidRequestContent: the body has the wrong shape (a missing
	// required property, a property of the wrong JSON type, an enum value
	// that is not one of its values, an unparsable time or id).
	CodeInvalidRequestContent = "InvalidRequestContent"
	// CodeInvalidPolicyRule: the policyRule does not compile (conditions,
	// operators, fields, effect, details, template expressions).
	CodeInvalidPolicyRule = "InvalidPolicyRule"
	// CodeInvalidPolicyAlias: a field names an alias the catalog does not
	// have, in a namespace the catalog knows.
	CodeInvalidPolicyAlias = "InvalidPolicyAlias"
	// CodeInvalidPolicyDefinitionMode: mode is not All, Indexed or a
	// resource provider mode (Microsoft.X.Data).
	CodeInvalidPolicyDefinitionMode = "InvalidPolicyDefinitionMode"
	// CodeInvalidPolicyParameters: a parameter declaration is invalid, or
	// the rule uses a parameter that is not declared.
	CodeInvalidPolicyParameters = "InvalidPolicyParameters"
	// CodeUnusedPolicyParameters: a declared parameter is never used.
	CodeUnusedPolicyParameters = "UnusedPolicyParameters"
	// CodeUndefinedPolicyParameter: a value is given for a parameter the
	// definition does not declare.
	CodeUndefinedPolicyParameter = "UndefinedPolicyParameter"
	// CodeMissingPolicyParameter: a parameter without a default value has
	// no value.
	CodeMissingPolicyParameter = "MissingPolicyParameter"
	// CodeInvalidPolicyParameterType: a value does not match the
	// parameter's type (or its schema).
	CodeInvalidPolicyParameterType = "InvalidPolicyParameterType"
	// CodePolicyParameterValueNotAllowed: a value is not among the
	// parameter's allowedValues (compared case-sensitively, as Azure does).
	CodePolicyParameterValueNotAllowed = "PolicyParameterValueNotAllowed"
	// CodePolicyDefinitionNotFound and CodePolicySetDefinitionNotFound: a
	// policyDefinitionId does not resolve (or is not visible from the
	// scope).
	CodePolicyDefinitionNotFound    = "PolicyDefinitionNotFound"
	CodePolicySetDefinitionNotFound = "PolicySetDefinitionNotFound"
	// CodeInvalidPolicyDefinitionReference: a policyDefinitionReferenceId
	// (exemption, non-compliance message, override selector) is not a
	// member of the assigned initiative.
	CodeInvalidPolicyDefinitionReference = "InvalidPolicyDefinitionReference"
	// CodeDuplicatePolicyDefinitionReferenceID (mlgov): two members of an
	// initiative have the same policyDefinitionReferenceId.
	CodeDuplicatePolicyDefinitionReferenceID = "DuplicatePolicyDefinitionReferenceId"
	// CodeInvalidCreatePolicyExemptionRequest: the exemption's assignment
	// does not exist or its scope does not contain the exemption's.
	CodeInvalidCreatePolicyExemptionRequest = "InvalidCreatePolicyExemptionRequest"
	// CodeInvalidPolicyAssignmentIDUpdate: an exemption's
	// policyAssignmentId cannot change.
	CodeInvalidPolicyAssignmentIDUpdate = "InvalidPolicyAssignmentIdUpdate"
	// CodeInvalidResourceSelectors (mlgov): a resourceSelectors or
	// overrides selector breaks the rules of the documentation (kinds,
	// in xor notIn, counts).
	CodeInvalidResourceSelectors = "InvalidResourceSelectors"
	// CodeInvalidPolicyOverride (mlgov): an override's kind or value is
	// not valid.
	CodeInvalidPolicyOverride = "InvalidPolicyOverride"
)

// errs collects refusals in the order found.
type errs []*arm.Error

func (e *errs) add(code string, target definition.Pointer, format string, args ...any) {
	if len(*e) >= 50 {
		return
	}
	*e = append(*e, &arm.Error{Code: code, Target: string(target), Message: fmt.Sprintf(format, args...)})
}

// err returns nil, the one error, or the first with all of them as
// Details.
func (e errs) err() error {
	switch len(e) {
	case 0:
		return nil
	case 1:
		return e[0]
	}
	top := *e[0]
	top.Message = fmt.Sprintf("%s (and %d more problems: see details)", top.Message, len(e)-1)
	top.Details = append([]*arm.Error(nil), e...)
	return &top
}

func kindName(v value.Value) string {
	if v.IsUndefined() {
		return "nothing"
	}
	return strings.ToLower(v.Kind().String())
}

const (
	props = definition.Pointer("/properties")
)
