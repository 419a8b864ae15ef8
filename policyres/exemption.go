package policyres

import (
	"context"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

// Exemption categories and scope validation modes.
const (
	CategoryWaiver               = "Waiver"
	CategoryMitigated            = "Mitigated"
	ScopeValidationDefault       = "Default"
	ScopeValidationDoNotValidate = "DoNotValidate"
)

// BuildExemption validates a policyExemptions PUT body for the exemption
// id ({scope}/providers/Microsoft.Authorization/policyExemptions/{name})
// and returns the properties to store: policyAssignmentId,
// policyDefinitionReferenceIds, exemptionCategory (Waiver|Mitigated),
// expiresOn (RFC 3339, stored in UTC), displayName, description, metadata
// (createdBy...), assignmentScopeValidation (as given), resourceSelectors.
//
// The assignment must exist (r) and, unless assignmentScopeValidation is
// DoNotValidate, its scope must contain the exemption's; reference ids
// must be members of the assigned initiative; the policyAssignmentId of a
// stored exemption cannot change.
func BuildExemption(ctx context.Context, id *arm.ID, body, existing value.Value, r Resolver, opts Options) (value.Value, error) {
	var e errs
	p, ok := properties(body, &e)
	if !ok {
		return value.Value{}, e.err()
	}
	scope := scopeOf(id)
	displayName, _ := optString(p, "displayName", props, 128, &e)
	description, _ := optString(p, "description", props, 512, &e)
	md := metadata(p, existing, &opts, &e)
	cat, _ := optString(p, "exemptionCategory", props, 0, &e)
	category, ok := enum(cat, CategoryWaiver, CategoryMitigated)
	if !ok {
		e.add(CodeInvalidRequestContent, props.Key("exemptionCategory"), "The request content was invalid and could not be deserialized: the exemptionCategory '%s' is not one of 'Waiver', 'Mitigated'.", arm.Clip(cat, 100))
	}
	validation := ScopeValidationDefault
	asv, hasASV := optString(p, "assignmentScopeValidation", props, 0, &e)
	if hasASV {
		if validation, ok = enum(asv, ScopeValidationDefault, ScopeValidationDoNotValidate); !ok {
			e.add(CodeInvalidRequestContent, props.Key("assignmentScopeValidation"), "The request content was invalid and could not be deserialized: the assignmentScopeValidation '%s' is not one of 'Default', 'DoNotValidate'.", arm.Clip(asv, 100))
		}
	}
	var expires string
	if s, ok := optString(p, "expiresOn", props, 0, &e); ok {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			e.add(CodeInvalidRequestContent, props.Key("expiresOn"), "The request content was invalid and could not be deserialized: expiresOn '%s' is not an RFC 3339 date and time.", arm.Clip(s, 100))
		} else {
			expires = t.UTC().Format(time.RFC3339Nano)
		}
	}
	var refs []string
	refsGiven := false
	if l, ok := optArray(p, "policyDefinitionReferenceIds", props, &e); ok {
		refs, refsGiven = stringList(l, props.Key("policyDefinitionReferenceIds"), "policyDefinitionReferenceIds", &e), true
	}
	selectors, hasSelectors := parseResourceSelectors(p, &e)

	ap := props.Key("policyAssignmentId")
	aid, _ := optString(p, "policyAssignmentId", props, 0, &e)
	if aid == "" {
		e.add(CodeInvalidCreatePolicyExemptionRequest, ap, "The policy exemption '%s' create request is invalid: 'policyAssignmentId' is required.", id.Name())
		return value.Value{}, e.err()
	}
	aid = CanonicalID(aid)
	if old := existing.Field("properties").Field("policyAssignmentId"); old.Kind() == value.String && idKey(old.Str()) != idKey(aid) {
		e.add(CodeInvalidPolicyAssignmentIDUpdate, ap, "The policy assignment id of the policy exemption '%s' cannot be changed from '%s'.", id.Name(), arm.Clip(old.Str(), 300))
		return value.Value{}, e.err()
	}
	stored, err := r.PolicyAssignment(ctx, aid)
	if err != nil {
		if !notFound(err) {
			return value.Value{}, err
		}
		e.add(CodeInvalidCreatePolicyExemptionRequest, ap, "The policy exemption '%s' create request is invalid: the policy assignment '%s' could not be found.", id.Name(), arm.Clip(aid, 300))
		return value.Value{}, e.err()
	}
	a, err := ParseAssignment(stored)
	if err != nil {
		return value.Value{}, err
	}
	if a.ID == "" {
		a.ID = aid
	}
	if validation == ScopeValidationDefault && !scopeContainsIn(r, a.Scope, scope) {
		e.add(CodeInvalidCreatePolicyExemptionRequest, ap, "The policy exemption '%s' create request is invalid: the exemption's scope '%s' is not at or under the policy assignment scope '%s'.", id.Name(), scope, a.Scope)
	}
	var normRefs []value.Value
	if refsGiven {
		normRefs = []value.Value{}
		var members map[string]string
		if a.IsSet {
			s, _, err := r.PolicySetDefinition(ctx, CanonicalID(a.PolicyDefinitionID))
			if err != nil && !notFound(err) {
				return value.Value{}, err
			}
			members = map[string]string{}
			if s != nil {
				for _, m := range s.Members {
					members[strings.ToLower(m.ReferenceID)] = m.ReferenceID
				}
			}
		}
		for i, rid := range refs {
			if c, ok := checkReference(rid, members, props.Key("policyDefinitionReferenceIds").Index(i), a.PolicyDefinitionID, &e); ok {
				normRefs = append(normRefs, value.StringValue(c))
			}
		}
	}
	if len(e) > 0 {
		return value.Value{}, e.err()
	}
	b := value.NewObjectBuilder(10)
	b.Add("policyAssignmentId", value.StringValue(aid))
	if normRefs != nil {
		b.Add("policyDefinitionReferenceIds", value.ArrayValue(normRefs))
	}
	b.Add("exemptionCategory", value.StringValue(category))
	addString(&b, "expiresOn", expires)
	addString(&b, "displayName", displayName)
	addString(&b, "description", description)
	b.Add("metadata", md)
	if hasASV {
		b.Add("assignmentScopeValidation", value.StringValue(validation))
	}
	if hasSelectors {
		b.Add("resourceSelectors", selectors)
	}
	return b.Object(), nil
}
