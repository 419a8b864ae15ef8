package policyres

import (
	"context"
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// Enforcement modes.
const (
	EnforcementDefault      = "Default"
	EnforcementDoNotEnforce = "DoNotEnforce"
)

// BuildAssignment validates a policyAssignments PUT body for the
// assignment id ({scope}/providers/Microsoft.Authorization/policyAssignments/{name})
// and returns the properties to store: displayName, policyDefinitionId,
// definitionVersion, scope (the id's scope, whatever the body says),
// notScopes, parameters, description, metadata (createdBy...),
// enforcementMode ("Default" when absent), nonComplianceMessages,
// overrides, resourceSelectors. Other properties are dropped.
//
// The body's "location" and "identity" belong to the caller's envelope,
// which stores them (location normalized; identity principalId and
// tenantId set by the server). They are checked here: identity.type is
// SystemAssigned, UserAssigned (exactly one userAssignedIdentities entry)
// or None, and an identity other than None needs a location that is not
// "global".
func BuildAssignment(ctx context.Context, id *arm.ID, body, existing value.Value, r Resolver, opts Options) (value.Value, error) {
	var e errs
	p, ok := properties(body, &e)
	if !ok {
		return value.Value{}, e.err()
	}
	scope := scopeOf(id)
	displayName, _ := optString(p, "displayName", props, 128, &e)
	description, _ := optString(p, "description", props, 512, &e)
	defVersion, _ := optString(p, "definitionVersion", props, 0, &e)
	md := metadata(p, existing, &opts, &e)
	checkIdentity(body, &e)
	defID, _ := optString(p, "policyDefinitionId", props, 0, &e)
	dp := props.Key("policyDefinitionId")
	if defID == "" {
		e.add(CodeInvalidRequestContent, dp, "The request content was invalid and could not be deserialized: 'policyDefinitionId' is required.")
		return value.Value{}, e.err()
	}
	defID = CanonicalID(defID)

	// The assigned definition or initiative.
	var params []*definition.Parameter
	var def *definition.Definition
	var set *definition.SetDefinition
	var refIDs map[string]string // lower-cased → as written
	kind, pid := policyIDKind(defID)
	switch kind {
	case "definition":
		d, err := resolveDefinition(ctx, r, defID, scope, dp, &e)
		if err != nil {
			return value.Value{}, err
		}
		if def = d; d != nil {
			params = d.Parameters
		}
	case "set":
		if !visible(r, pid, scope) {
			e.add(CodePolicySetDefinitionNotFound, dp, "The policy set definition '%s' could not be found.", arm.Clip(defID, 300))
			break
		}
		s, _, err := r.PolicySetDefinition(ctx, defID)
		if err != nil {
			if !notFound(err) {
				return value.Value{}, err
			}
			e.add(CodePolicySetDefinitionNotFound, dp, "The policy set definition '%s' could not be found.", arm.Clip(defID, 300))
			break
		}
		set, params = s, s.Parameters
		refIDs = map[string]string{}
		for _, m := range s.Members {
			refIDs[strings.ToLower(m.ReferenceID)] = m.ReferenceID
		}
	default:
		e.add(CodePolicyDefinitionNotFound, dp, "The policy definition '%s' could not be found: it is not the id of a policy definition or policy set definition.", arm.Clip(defID, 300))
	}
	if def == nil && set == nil {
		return value.Value{}, e.err()
	}

	// Parameters.
	vals, normParams := assignmentParameters(p, params, defID, &e)

	// notScopes.
	var notScopes []value.Value
	if ns, ok := optArray(p, "notScopes", props, &e); ok {
		notScopes = []value.Value{}
		for i, s := range stringList(ns, props.Key("notScopes"), "notScopes", &e) {
			if !validScope(s) {
				e.add(CodeInvalidRequestContent, props.Key("notScopes").Index(i), "The notScope '%s' is not a valid scope (a subscription, resource group or resource id).", arm.Clip(s, 300))
				continue
			}
			notScopes = append(notScopes, value.StringValue(CanonicalID(s)))
		}
	}

	// enforcementMode.
	mode := EnforcementDefault
	if m, ok := optString(p, "enforcementMode", props, 0, &e); ok {
		if mode, ok = enum(m, EnforcementDefault, EnforcementDoNotEnforce); !ok {
			e.add(CodeInvalidRequestContent, props.Key("enforcementMode"), "The request content was invalid and could not be deserialized: the enforcementMode '%s' is not one of 'Default', 'DoNotEnforce'.", arm.Clip(m, 100))
		}
	}

	// nonComplianceMessages.
	var messages []value.Value
	if ms, ok := optArray(p, "nonComplianceMessages", props, &e); ok {
		messages = []value.Value{}
		for i, m := range ms {
			mp := props.Key("nonComplianceMessages").Index(i)
			if m.Kind() != value.Object {
				e.add(CodeInvalidRequestContent, mp, "The request content was invalid and could not be deserialized: a non-compliance message must be an object, got %s.", kindName(m))
				continue
			}
			text, _ := optString(m, "message", mp, 1024, &e)
			if text == "" {
				e.add(CodeInvalidRequestContent, mp.Key("message"), "The request content was invalid and could not be deserialized: a non-compliance message needs a 'message'.")
			}
			b := value.NewObjectBuilder(2)
			b.Add("message", value.StringValue(text))
			if rid, ok := optString(m, "policyDefinitionReferenceId", mp, 0, &e); ok {
				if canon, ok := checkReference(rid, refIDs, mp.Key("policyDefinitionReferenceId"), defID, &e); ok {
					b.Add("policyDefinitionReferenceId", value.StringValue(canon))
				}
			}
			messages = append(messages, b.Object())
		}
	}

	// overrides.
	var overrides []value.Value
	if os, ok := optArray(p, "overrides", props, &e); ok {
		overrides = parseOverrides(os, refIDs, defID, &e)
	}

	selectors, hasSelectors := parseResourceSelectors(p, &e)

	if len(e) > 0 {
		return value.Value{}, e.err()
	}
	// The parameter values bind: compile as the evaluator will.
	if err := compileAssignment(ctx, r, def, set, vals, &opts, &e); err != nil {
		return value.Value{}, err
	}
	if len(e) > 0 {
		return value.Value{}, e.err()
	}

	b := value.NewObjectBuilder(12)
	addString(&b, "displayName", displayName)
	b.Add("policyDefinitionId", value.StringValue(defID))
	addString(&b, "definitionVersion", defVersion)
	b.Add("scope", value.StringValue(scope))
	if notScopes != nil {
		b.Add("notScopes", value.ArrayValue(notScopes))
	}
	put(&b, "parameters", normParams)
	addString(&b, "description", description)
	b.Add("metadata", md)
	b.Add("enforcementMode", value.StringValue(mode))
	if messages != nil {
		b.Add("nonComplianceMessages", value.ArrayValue(messages))
	}
	if overrides != nil {
		b.Add("overrides", value.ArrayValue(overrides))
	}
	if hasSelectors {
		b.Add("resourceSelectors", selectors)
	}
	return b.Object(), nil
}

// checkIdentity checks the envelope's identity and location.
func checkIdentity(body value.Value, e *errs) {
	idv, ok := body.Get("identity")
	if !ok || idv.Kind() == value.Null {
		return
	}
	if idv.Kind() != value.Object {
		e.add(CodeInvalidRequestContent, "/identity", "The request content was invalid and could not be deserialized: 'identity' must be an object, got %s.", kindName(idv))
		return
	}
	t, _ := optString(idv, "type", "/identity", 0, e)
	typ, ok := enum(t, "SystemAssigned", "UserAssigned", "None")
	if !ok {
		e.add(CodeInvalidRequestContent, "/identity/type", "The request content was invalid and could not be deserialized: the identity type '%s' is not one of 'SystemAssigned', 'UserAssigned', 'None'.", arm.Clip(t, 100))
		return
	}
	if typ == "UserAssigned" {
		u := idv.Field("userAssignedIdentities")
		if u.Kind() != value.Object || u.Len() != 1 {
			e.add(CodeInvalidRequestContent, "/identity/userAssignedIdentities", "A policy assignment with a user-assigned identity must name exactly one identity in 'userAssignedIdentities'.")
		}
	}
	if typ == "None" {
		return
	}
	loc, _ := optString(body, "location", "", 0, e)
	switch {
	case loc == "":
		e.add(CodeInvalidRequestContent, "/location", "A policy assignment with a managed identity needs a 'location'.")
	case arm.NormalizeLocation(loc) == "global":
		e.add(CodeInvalidRequestContent, "/location", "The location of a policy assignment with a managed identity cannot be 'global'.")
	}
}

// validScope: an id a policy can be scoped to or excluded from.
func validScope(s string) bool {
	pid, err := arm.ParseID(CanonicalID(s))
	if err != nil || pid.Trailing != "" {
		return false
	}
	if pid.SubscriptionID != "" {
		return true
	}
	return len(pid.Parts) > 0 && strings.EqualFold(pid.Parts[0].Namespace, "Microsoft.Management") && strings.EqualFold(pid.Parts[0].Type, "managementGroups")
}

// checkReference checks a policyDefinitionReferenceId against the
// assigned initiative's members (none when a definition is assigned).
func checkReference(rid string, refIDs map[string]string, ptr definition.Pointer, defID string, e *errs) (string, bool) {
	if refIDs == nil {
		e.add(CodeInvalidPolicyDefinitionReference, ptr, "The policy definition reference id '%s' is not valid: the assignment assigns the policy definition '%s', not an initiative.", arm.Clip(rid, 100), arm.Clip(defID, 300))
		return "", false
	}
	canon, ok := refIDs[strings.ToLower(rid)]
	if !ok {
		e.add(CodeInvalidPolicyDefinitionReference, ptr, "The policy definition reference id '%s' is not a member of the policy set definition '%s'.", arm.Clip(rid, 100), arm.Clip(defID, 300))
		return "", false
	}
	return canon, true
}

// assignmentParameters checks the {name: {value}} object against the
// declarations: names declared, required ones given, types, schemas and
// allowedValues (case-sensitive). It returns the plain values and the
// normalized object.
func assignmentParameters(p value.Value, params []*definition.Parameter, defID string, e *errs) (map[string]value.Value, value.Value) {
	pp := props.Key("parameters")
	pv, ok := p.Get("parameters")
	given := map[string]value.Value{}
	var norm value.Value
	// holder names the assigned definition in messages by the id the
	// body gave.
	holder := &definition.Definition{ID: defID, Name: defID, Parameters: params}
	if ok && pv.Kind() != value.Null {
		if pv.Kind() != value.Object {
			e.add(CodeInvalidRequestContent, pp, "The request content was invalid and could not be deserialized: 'parameters' must be an object, got %s.", kindName(pv))
			return nil, value.Value{}
		}
		b := value.NewObjectBuilder(pv.Len())
		var undefined []string
		var firstUndefined definition.Pointer
		for i := 0; i < pv.Len(); i++ {
			name, w := pv.MemberAt(i)
			np := pp.Key(name)
			v, has := w.Get("value")
			if w.Kind() != value.Object || !has {
				e.add(CodeInvalidRequestContent, np, "The request content was invalid and could not be deserialized: the value of parameter '%s' must be given as {\"value\": ...}.", name)
				continue
			}
			_, pd := holder.Param(name)
			if pd == nil {
				if firstUndefined == "" {
					firstUndefined = np
				}
				undefined = append(undefined, name)
				continue
			}
			if checkValue(pd, v, np.Key("value"), false, holder, e) {
				given[pd.Name] = v
			}
			b.Add(name, value.ObjectValue(value.Member{Key: "value", Value: v}))
		}
		if len(undefined) > 0 {
			e.add(CodeUndefinedPolicyParameter, firstUndefined, "The policy assignment has the parameter(s) '%s' which are not defined in the policy definition '%s'.", strings.Join(undefined, ", "), holder.ID)
		}
		norm = b.Object()
	}
	var missing []string
	for _, pd := range params {
		if _, ok := given[pd.Name]; !ok && !pd.HasDefault && !hasParam(pv, pd.Name) {
			missing = append(missing, pd.Name)
		}
	}
	if len(missing) > 0 {
		e.add(CodeMissingPolicyParameter, pp, "The policy assignment is missing the parameter(s) '%s' as defined in the policy definition '%s'.", strings.Join(missing, ", "), holder.ID)
	}
	return given, norm
}

func hasParam(pv value.Value, name string) bool {
	_, ok := pv.Get(name)
	return ok
}

// parseOverrides validates overrides: kind policyEffect, an effect value,
// selectors on policyDefinitionReferenceId.
func parseOverrides(os []value.Value, refIDs map[string]string, defID string, e *errs) []value.Value {
	op := props.Key("overrides")
	if len(os) > maxOverrides {
		e.add(CodeInvalidPolicyOverride, op, "There can be at most %d overrides, there are %d.", maxOverrides, len(os))
		return nil
	}
	out := []value.Value{}
	for i, o := range os {
		ptr := op.Index(i)
		if o.Kind() != value.Object {
			e.add(CodeInvalidRequestContent, ptr, "The request content was invalid and could not be deserialized: an override must be an object, got %s.", kindName(o))
			continue
		}
		k, _ := optString(o, "kind", ptr, 0, e)
		if _, ok := enum(k, "policyEffect"); !ok {
			e.add(CodeInvalidPolicyOverride, ptr.Key("kind"), "The override kind '%s' is not supported; expected 'policyEffect'.", arm.Clip(k, 100))
			continue
		}
		v, _ := optString(o, "value", ptr, 0, e)
		eff, ok := policy.ParseEffect(v)
		if !ok {
			e.add(CodeInvalidPolicyOverride, ptr.Key("value"), "The override value '%s' is not a policy effect.", arm.Clip(v, 100))
			continue
		}
		b := value.NewObjectBuilder(3)
		b.Add("kind", value.StringValue("policyEffect"))
		b.Add("value", value.StringValue(eff.String()))
		if sels, ok := optArray(o, "selectors", ptr, e); ok {
			norm := []value.Value{}
			for j, sv := range sels {
				sp := ptr.Key("selectors").Index(j)
				s, nv, ok := parseSelector(sv, sp, []string{KindReferenceID}, e)
				if !ok {
					continue
				}
				vals, key := s.In, "in"
				if s.NotIn != nil {
					vals, key = s.NotIn, "notIn"
				}
				canon := make([]string, 0, len(vals))
				for n, rid := range vals {
					if c, ok := checkReference(rid, refIDs, sp.Key(key).Index(n), defID, e); ok {
						canon = append(canon, c)
					}
				}
				nv = nv.With(key, strings2values(canon))
				norm = append(norm, nv)
			}
			b.Add("selectors", value.ArrayValue(norm))
		}
		out = append(out, b.Object())
	}
	return out
}

// compileAssignment binds the values as the evaluator will: the
// definition, or every member of the initiative that resolves (members
// that do not are left out, as they cannot be evaluated either).
func compileAssignment(ctx context.Context, r Resolver, def *definition.Definition, set *definition.SetDefinition, vals map[string]value.Value, opts *Options, e *errs) error {
	pp := props.Key("parameters")
	if def != nil {
		if _, err := policy.Compile(def, policy.Options{Aliases: opts.Aliases, Parameters: vals}); err != nil {
			addBindErrors(err, pp, e)
		}
		return nil
	}
	defs := map[string]*definition.Definition{}
	for _, m := range set.Members {
		d, _, err := r.PolicyDefinition(ctx, CanonicalID(m.DefinitionID))
		if err != nil {
			if notFound(err) {
				continue
			}
			return err
		}
		defs[idKey(m.DefinitionID)] = d
	}
	resolve := func(id string) (*definition.Definition, bool) {
		d, ok := defs[idKey(id)]
		return d, ok
	}
	if _, err := policy.CompileSet(set, resolve, policy.Options{Aliases: opts.Aliases, Parameters: vals}, nil); err != nil {
		if list, ok := err.(definition.ErrorList); ok {
			var keep definition.ErrorList
			for _, de := range list {
				if de.Code != definition.CodeUnresolvedReference {
					keep = append(keep, de)
				}
			}
			if len(keep) == 0 {
				return nil
			}
			err = keep
		}
		addBindErrors(err, pp, e)
	}
	return nil
}

// addBindErrors reports what compiling with the assignment's values
// found, at the parameters.
func addBindErrors(err error, at definition.Pointer, e *errs) {
	list, ok := err.(definition.ErrorList)
	if !ok {
		e.add(CodeInvalidPolicyParameters, at, "The policy could not be parameterized: %v", err)
		return
	}
	for _, de := range list {
		code := mapCode(de)
		if code == CodeInvalidPolicyRule || code == CodeInvalidRequestContent || code == CodeInvalidPolicyAlias {
			code = CodeInvalidPolicyParameters
		}
		e.add(code, at, "The policy could not be parameterized because of validation errors: %s", fmt.Sprint(de))
	}
}
