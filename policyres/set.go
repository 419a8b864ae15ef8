package policyres

import (
	"context"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// BuildSetDefinition validates a policySetDefinitions PUT body and returns
// the properties to store: displayName, policyType ("Custom"),
// description, metadata (createdBy...), version, parameters,
// policyDefinitions, policyDefinitionGroups.
//
// Every member's policyDefinitionId must resolve (r) to a policy
// definition visible from the initiative's subscription; a member without
// a policyDefinitionReferenceId gets a generated numeric one (as Azure
// does; kept across updates for the same definition), and reference ids
// must be unique. Member parameter values are checked against the
// member's parameters (declared, required ones given, type and
// allowedValues of constant values) and the members are compiled with
// the initiative's parameters; every initiative parameter must be used.
func BuildSetDefinition(ctx context.Context, id *arm.ID, body, existing value.Value, r Resolver, opts Options) (value.Value, error) {
	var e errs
	p, ok := properties(body, &e)
	if !ok {
		return value.Value{}, e.err()
	}
	displayName, _ := optString(p, "displayName", props, 128, &e)
	description, _ := optString(p, "description", props, 512, &e)
	version, _ := optString(p, "version", props, 0, &e)
	optString(p, "policyType", props, 0, &e)
	md := metadata(p, existing, &opts, &e)
	mp := props.Key("policyDefinitions")
	members, ok := optArray(p, "policyDefinitions", props, &e)
	if ok && len(members) == 0 || !ok && len(e) == 0 {
		e.add(CodeInvalidRequestContent, mp, "The request content was invalid and could not be deserialized: 'policyDefinitions' must list at least one policy definition.")
	}
	groups := map[string]bool{}
	gv, hasGroups := optArray(p, "policyDefinitionGroups", props, &e)
	for i, g := range gv {
		gp := props.Key("policyDefinitionGroups").Index(i)
		name, ok := optString(g, "name", gp, 0, &e)
		if g.Kind() != value.Object || !ok || name == "" {
			e.add(CodeInvalidRequestContent, gp.Key("name"), "each policy definition group must be an object with a 'name'")
			continue
		}
		if groups[strings.ToLower(name)] {
			e.add(CodeInvalidRequestContent, gp.Key("name"), "the policy definition group name '%s' is used twice", name)
		}
		groups[strings.ToLower(name)] = true
	}
	if len(e) > 0 {
		return value.Value{}, e.err()
	}

	// Reference ids: explicit ones must be unique; missing ones are
	// generated (the stored initiative's id for the same definition is
	// kept).
	explicit := map[string]bool{}
	for _, m := range members {
		if rid := m.Field("policyDefinitionReferenceId"); rid.Kind() == value.String && rid.Str() != "" {
			explicit[strings.ToLower(rid.Str())] = true
		}
	}
	reuse := map[string][]string{} // definition id key → stored generated reference ids
	for _, m := range existing.Field("properties").Field("policyDefinitions").Elems() {
		rid := m.Field("policyDefinitionReferenceId").Str()
		if rid != "" && !explicit[strings.ToLower(rid)] {
			k := idKey(m.Field("policyDefinitionId").Str())
			reuse[k] = append(reuse[k], rid)
		}
	}
	taken := map[string]bool{}
	for k := range explicit {
		taken[k] = true
	}
	norm := make([]value.Value, len(members))
	for i, m := range members {
		ptr := mp.Index(i)
		if m.Kind() != value.Object {
			e.add(CodeInvalidRequestContent, ptr, "each member of 'policyDefinitions' must be an object, got %s", kindName(m))
			continue
		}
		defID, _ := optString(m, "policyDefinitionId", ptr, 0, &e)
		if defID == "" {
			e.add(CodeInvalidRequestContent, ptr.Key("policyDefinitionId"), "The request content was invalid and could not be deserialized: the member has no 'policyDefinitionId'.")
		}
		rid, _ := optString(m, "policyDefinitionReferenceId", ptr, 0, &e)
		if rid == "" {
			k := idKey(defID)
			if l := reuse[k]; len(l) > 0 && !taken[strings.ToLower(l[0])] {
				rid, reuse[k] = l[0], l[1:]
			} else {
				rid = generateReferenceID(id.String(), defID, i, taken)
			}
			taken[strings.ToLower(rid)] = true
			m = m.With("policyDefinitionReferenceId", value.StringValue(rid))
		}
		if gn, ok := optArray(m, "groupNames", ptr, &e); ok {
			for j, g := range stringList(gn, ptr.Key("groupNames"), "groupNames", &e) {
				if !groups[strings.ToLower(g)] {
					e.add(CodeInvalidRequestContent, ptr.Key("groupNames").Index(j), "the group '%s' is not one of the initiative's policyDefinitionGroups", g)
				}
			}
		}
		norm[i] = member(m)
	}
	if len(e) > 0 {
		return value.Value{}, e.err()
	}
	nb := p.With("policyDefinitions", value.ArrayValue(norm))
	doc, err := definition.FromValue(value.ObjectValue(value.Member{Key: "properties", Value: nb}))
	if err != nil {
		addSetErrors(err, &e)
		return value.Value{}, e.err()
	}
	set := doc.Set
	set.ID, set.Name = id.String(), id.Name()

	// Members: resolve, check parameter values.
	scope := scopeOf(id)
	defs := map[string]*definition.Definition{}
	for _, ref := range set.Members {
		d, err := resolveDefinition(ctx, r, ref.DefinitionID, scope, ref.Pointer.Key("policyDefinitionId"), &e)
		if err != nil {
			return value.Value{}, err
		}
		if d == nil {
			continue
		}
		defs[idKey(ref.DefinitionID)] = d
		checkMemberParameters(ref, d, &e)
	}
	// Initiative parameters must be used by some member.
	used := nb.Field("policyDefinitions")
	checkUnused(set.Parameters, used, &e)
	if len(e) > 0 {
		return value.Value{}, e.err()
	}
	resolve := func(id string) (*definition.Definition, bool) {
		d, ok := defs[idKey(id)]
		return d, ok
	}
	if _, err := policy.CompileSet(set, resolve, policy.Options{Aliases: opts.Aliases, AllowMissingParameters: true}, nil); err != nil {
		addSetErrors(err, &e)
		return value.Value{}, e.err()
	}

	b := value.NewObjectBuilder(9)
	addString(&b, "displayName", displayName)
	b.Add("policyType", value.StringValue("Custom"))
	addString(&b, "description", description)
	b.Add("metadata", md)
	addString(&b, "version", version)
	if pv := p.Field("parameters"); pv.Kind() == value.Object {
		b.Add("parameters", pv)
	}
	b.Add("policyDefinitions", value.ArrayValue(norm))
	if hasGroups {
		b.Add("policyDefinitionGroups", p.Field("policyDefinitionGroups"))
	}
	return b.Object(), nil
}

// member keeps a member's known properties, in Azure's order.
func member(m value.Value) value.Value {
	b := value.NewObjectBuilder(5)
	for _, k := range []string{"policyDefinitionId", "definitionVersion", "parameters", "policyDefinitionReferenceId", "groupNames"} {
		if v, ok := m.Get(k); ok && v.Kind() != value.Null {
			if k == "policyDefinitionId" {
				v = value.StringValue(CanonicalID(v.Str()))
			}
			b.Add(k, v)
		}
	}
	return b.Object()
}

// generateReferenceID derives a numeric reference id (the form Azure
// generates, e.g. "10420126870854049575") from the initiative, the member
// definition and its position, avoiding taken ones.
func generateReferenceID(setID, defID string, i int, taken map[string]bool) string {
	for n := 0; ; n++ {
		h := fnv.New64a()
		h.Write([]byte(idKey(setID)))
		h.Write([]byte{0})
		h.Write([]byte(idKey(defID)))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(i) + "/" + strconv.Itoa(n)))
		s := strconv.FormatUint(h.Sum64(), 10)
		if !taken[s] {
			return s
		}
	}
}

// isExpression: a string evaluated as a template expression.
func isExpression(v value.Value) bool {
	s := v.Str()
	return v.Kind() == value.String && strings.HasPrefix(s, "[") && !strings.HasPrefix(s, "[[") && strings.HasSuffix(s, "]")
}

// checkMemberParameters checks the values an initiative passes to a
// member: declared names, required ones present, constant values of the
// right type and allowed (allowedValues compared case-insensitively here,
// as Azure accepts in built-in initiatives).
func checkMemberParameters(ref *definition.Reference, d *definition.Definition, e *errs) {
	pp := ref.Pointer.Key("parameters")
	given := map[string]bool{}
	for _, b := range ref.Parameters {
		given[strings.ToLower(b.Name)] = true
		_, pd := d.Param(b.Name)
		if pd == nil {
			e.add(CodeUndefinedPolicyParameter, pp.Key(b.Name), "The parameter '%s' is not defined in the policy definition '%s'.", b.Name, ref.DefinitionID)
			continue
		}
		if isExpression(b.Value) {
			continue
		}
		checkValue(pd, b.Value, b.Pointer, true, d, e)
	}
	var missing []string
	for _, pd := range d.Parameters {
		if !pd.HasDefault && !given[strings.ToLower(pd.Name)] {
			missing = append(missing, pd.Name)
		}
	}
	if len(missing) > 0 {
		e.add(CodeMissingPolicyParameter, ref.Pointer, "The policy set definition member '%s' is missing the parameter(s) '%s' as defined in the policy definition '%s'.", ref.ReferenceID, strings.Join(missing, ", "), ref.DefinitionID)
	}
}

// checkValue checks one parameter value against its declaration.
func checkValue(pd *definition.Parameter, v value.Value, ptr definition.Pointer, fold bool, d *definition.Definition, e *errs) bool {
	if v.Kind() == value.Null {
		return true
	}
	if pd.Type != 0 && !pd.Type.Accepts(v) {
		e.add(CodeInvalidPolicyParameterType, ptr, "The value of the parameter '%s' is %s, but the parameter's type is '%s'.", pd.Name, kindName(v), pd.TypeName)
		return false
	}
	if pd.Check != nil && v.Kind() == value.Object {
		if vs := pd.Check.Validate(v); len(vs) > 0 {
			e.add(CodeInvalidPolicyParameterType, ptr, "The value of the parameter '%s' does not match its schema: %s", pd.Name, definition.Violations(vs))
			return false
		}
	}
	if len(pd.AllowedValues) > 0 && !allowedValue(pd, v, fold) {
		var av []string
		for _, a := range pd.AllowedValues {
			av = append(av, a.String())
		}
		name := d.Name
		if name == "" {
			name = d.ID
		}
		e.add(CodePolicyParameterValueNotAllowed, ptr, "The value '%s' is not allowed for policy parameter '%s' in policy definition '%s'. The allowed values are '%s'.", arm.Clip(v.String(), 200), pd.Name, name, strings.Join(av, ", "))
		return false
	}
	return true
}

// allowedValue: v (or, for arrays, each element) is among allowedValues;
// strings compared case-sensitively unless fold.
func allowedValue(pd *definition.Parameter, v value.Value, fold bool) bool {
	eq := func(a, b value.Value) bool {
		if fold && a.Kind() == value.String && b.Kind() == value.String {
			return value.EqualFold(a.Str(), b.Str())
		}
		return value.Equal(a, b)
	}
	in := func(x value.Value) bool {
		for _, a := range pd.AllowedValues {
			if eq(a, x) || (pd.Type == definition.TypeArray && eq(a, v)) {
				return true
			}
		}
		return false
	}
	if pd.Type == definition.TypeArray && v.Kind() == value.Array {
		for _, x := range v.Elems() {
			if !in(x) {
				return false
			}
		}
		return true
	}
	return in(v)
}

// addSetErrors maps the engine's initiative errors.
func addSetErrors(err error, e *errs) {
	list, ok := err.(definition.ErrorList)
	if !ok {
		e.add(CodeInvalidRequestContent, props.Key("policyDefinitions"), "%v", err)
		return
	}
	for _, de := range list {
		code := mapCode(de)
		switch {
		case de.Code == definition.CodeInvalidSetDefinition && strings.HasSuffix(de.Pointer, "/policyDefinitionReferenceId"):
			code = CodeDuplicatePolicyDefinitionReferenceID
		case de.Code == definition.CodeInvalidParameter && strings.HasPrefix(de.Pointer, "/properties/policyDefinitions/"):
			code = CodeInvalidRequestContent // a member value not wrapped in {"value": ...}
		case code == CodeInvalidRequestContent && (de.Code == definition.CodeInvalidExpression || de.Code == definition.CodeUnknownFunction):
			code = CodeInvalidPolicyParameters
		}
		e.add(code, definition.Pointer(de.Pointer), "%s", de.Message)
	}
}
