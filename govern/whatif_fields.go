package govern

import (
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
)

// The pending fields of checkPolicyRestrictions: for each field the
// caller has yet to choose, the restrictions the policies in force put
// on it.
//
//   - With values: the content is evaluated once per value with the field
//     set to it; a Deny (an Audit with includeAuditEffect) whose condition
//     holds and inspects the field restricts it: result Deny (Audit), the
//     values it refuses.
//   - Without values: the Deny members' conditions on the field, as
//     evaluated against the content: notIn/notEquals (the values allowed)
//     and exists false make it Required; in/equals (the values refused)
//     and other operators make it Deny.
//   - Either way, a Modify or Append that sets the field makes it Required
//     with its defaultValue; one that removes it, Removed.

// pendingRestrictions adds the restrictions on pending field i to out.
func (g *Governor) pendingRestrictions(out *restrictionsResult, i int, pf pendingField, body value.Value, checks []*hit,
	mutations []policy.Mutation, muts []*hit, in func(value.Value) *policy.Input, req *restrictionsRequest) error {
	for j, h := range muts {
		if j >= len(mutations) || mutations[j].Denied() {
			continue
		}
		for _, c := range mutations[j].Changes {
			if !fieldMatches(c.Field, pf.field) {
				continue
			}
			fr := fieldRestriction{Result: "Required", Policy: reference(h), PolicyEffect: h.res.Effect.String(), DefaultValue: display(c.New)}
			fr.Reason = fmt.Sprintf("%s sets %s to %s", h.res.Effect, c.Field, fr.DefaultValue)
			if c.New.IsUndefined() || strings.EqualFold(c.Operation, "remove") {
				fr.Result, fr.DefaultValue = "Removed", ""
				fr.Reason = fmt.Sprintf("%s removes %s", h.res.Effect, c.Field)
			}
			out.restrict(normField(c.Field), fr)
		}
	}
	restricts := func(h *hit) (policy.Effect, bool) {
		eff, _ := policy.ParseEffect(effectOf(h.m, &h.res))
		return eff, eff == policy.Deny || eff == policy.Audit && req.includeAudit
	}
	if len(pf.values) > 0 {
		denied := make([][]string, len(checks))
		for _, v := range pf.values {
			b, err := g.setField(body, pf.field, v, req.apiVersion)
			if err != nil {
				return badRestrictions(fmt.Sprintf("pendingFields[%d].field", i), "The pending field '%s' cannot be given values: %v.", pf.field, err)
			}
			for k, h := range checks {
				if _, ok := restricts(h); !ok {
					continue
				}
				x := in(b)
				x.Policy, x.Explain = h.m.policyIn, true
				res := h.m.prog.Evaluate(x)
				if (res.Effect == policy.Deny || res.Effect == policy.Audit) && inspects(res.Expressions, pf.field) {
					denied[k] = append(denied[k], v)
				}
			}
		}
		for k, h := range checks {
			if len(denied[k]) == 0 {
				continue
			}
			eff, _ := restricts(h)
			fr := fieldRestriction{Result: eff.String(), Values: denied[k], Policy: reference(h), PolicyEffect: eff.String(),
				Reason: h.as.a.Message(h.m.refID)}
			if fr.Reason == "" {
				fr.Reason = fmt.Sprintf("%s does not allow these values of %s", displayName(h), pf.field)
			}
			out.restrict(pf.field, fr)
		}
		return nil
	}
	for _, h := range checks {
		eff, ok := restricts(h)
		if !ok {
			continue
		}
		x := in(body)
		x.Policy, x.Explain = h.m.policyIn, true
		res := h.m.prog.Evaluate(x)
		seen := map[string]bool{}
		negated := negations(res.Conditions, len(res.Expressions))
		for xi, e := range res.Expressions {
			if !strings.EqualFold(e.Kind, "Field") || !fieldMatches(e.Expression, pf.field) {
				continue
			}
			op := strings.ToLower(e.Operator)
			if negated[xi] { // under a not: the opposite operator
				op = opposite[op]
			}
			key := strings.ToLower(e.Expression + "\x00" + e.Operator + "\x00" + e.Target.JSON())
			if seen[key] {
				continue
			}
			seen[key] = true
			fr := fieldRestriction{Result: eff.String(), Policy: reference(h), PolicyEffect: eff.String(), Values: strs(e.Target)}
			switch op {
			case "notin", "notequals":
				fr.Result = "Required"
				fr.Reason = fmt.Sprintf("%s must be one of: %s", normField(e.Expression), strings.Join(fr.Values, ", "))
			case "in", "equals":
				fr.Reason = fmt.Sprintf("%s must not be one of: %s", normField(e.Expression), strings.Join(fr.Values, ", "))
			case "exists", "notexists":
				fr.Values = nil
				if wantsAbsent := !e.Target.Bool() && !strings.EqualFold(e.Target.Str(), "true"); wantsAbsent == (op == "exists") {
					fr.Result = "Required"
					fr.Reason = fmt.Sprintf("%s is required", normField(e.Expression))
				} else {
					fr.Reason = fmt.Sprintf("%s must not be set", normField(e.Expression))
				}
			default:
				fr.Reason = fmt.Sprintf("%s is checked with %s %s", normField(e.Expression), e.Operator, display(e.Target))
			}
			if m := h.as.a.Message(h.m.refID); m != "" {
				fr.Reason = m
			}
			out.restrict(normField(e.Expression), fr)
		}
	}
	return nil
}

// opposite is the operator a not turns an operator into, for the
// operators whose restriction pendingRestrictions reads (exists is
// exists with the opposite target: notexists here).
var opposite = map[string]string{"in": "notin", "notin": "in", "equals": "notequals", "notequals": "equals", "exists": "notexists"}

// negations reports, per evaluated expression, whether an odd number of
// not groups hold it in the evaluated condition tree.
func negations(root *policy.ConditionNode, n int) []bool {
	out := make([]bool, n)
	var walk func(c *policy.ConditionNode, neg bool)
	walk = func(c *policy.ConditionNode, neg bool) {
		if c == nil {
			return
		}
		if strings.EqualFold(c.Kind, "not") {
			neg = !neg
		}
		if c.Expression >= 0 && c.Expression < n {
			out[c.Expression] = neg
		}
		for _, ch := range c.Children {
			walk(ch, neg)
		}
	}
	walk(root, false)
	return out
}

// restrict adds a restriction on field.
func (out *restrictionsResult) restrict(field string, fr fieldRestriction) {
	for _, f := range out.FieldRestrictions {
		if strings.EqualFold(f.Field, field) {
			f.Restrictions = append(f.Restrictions, fr)
			return
		}
	}
	out.FieldRestrictions = append(out.FieldRestrictions, &fieldRestrictions{Field: field, Restrictions: []fieldRestriction{fr}})
}

// normField writes a tag field as tags.name (tags['name'] and tags[name]
// as written in policies).
func normField(f string) string {
	if len(f) > 5 && strings.EqualFold(f[:5], "tags[") && strings.HasSuffix(f, "]") {
		return "tags." + strings.Trim(f[5:len(f)-1], "'")
	}
	return f
}

// fieldMatches reports whether the field a policy names is the pending
// field, or under it (the pending field "tags" covers every tag).
func fieldMatches(policyField, pending string) bool {
	a, b := strings.ToLower(normField(policyField)), strings.ToLower(normField(pending))
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(a, b+"[")
}

// inspects reports whether an evaluated condition tests the field.
func inspects(exprs []policy.ExpressionResult, field string) bool {
	for _, e := range exprs {
		if strings.EqualFold(e.Kind, "Field") && fieldMatches(e.Expression, field) {
			return true
		}
	}
	return false
}

func strs(v value.Value) []string {
	switch v.Kind() {
	case value.Undefined, value.Null:
		return nil
	case value.Array:
		out := make([]string, 0, v.Len())
		for _, e := range v.Elems() {
			out = append(out, display(e))
		}
		return out
	}
	return []string{display(v)}
}

// display is a value as a string: a string as it is, others as JSON.
func display(v value.Value) string {
	if v.Kind() == value.String {
		return v.Str()
	}
	if v.IsUndefined() {
		return ""
	}
	return v.JSON()
}

// setField is body with the pending field set to v: name, location,
// kind and type at the top level; a tag or an alias as a Modify
// addOrReplace would set it (the alias modifiable or not: the content is
// only evaluated).
func (g *Governor) setField(body value.Value, field, v, apiVersion string) (value.Value, error) {
	switch strings.ToLower(field) {
	case "name", "location", "kind", "type":
		return withMember(body, strings.ToLower(field), value.StringValue(v)), nil
	}
	if n := normField(field); len(n) > 5 && strings.EqualFold(n[:5], "tags.") {
		tags := body.Field("tags")
		if tags.Kind() != value.Object {
			tags = value.ObjectValue()
		}
		return withMember(body, "tags", withMember(tags, n[5:], value.StringValue(v))), nil
	}
	op := value.ObjectValue(value.Member{Key: "operation", Value: value.StringValue("addOrReplace")},
		value.Member{Key: "field", Value: value.StringValue(field)}, value.Member{Key: "value", Value: value.StringValue(v)})
	res := &policy.Result{Effect: policy.Modify, Details: value.ObjectValue(
		value.Member{Key: "conflictEffect", Value: value.StringValue("deny")},
		value.Member{Key: "operations", Value: value.ArrayValue([]value.Value{op})})}
	m, err := policy.Apply(body, res, policy.ApplyOptions{APIVersion: apiVersion, Aliases: g.catalog})
	if err != nil {
		return body, err
	}
	if len(m.Changes) == 0 {
		why := "it is not a field of the resource"
		if len(m.Conflicts) > 0 {
			why = m.Conflicts[0].Reason
		} else if len(m.Skipped) > 0 {
			why = m.Skipped[0].Reason
		}
		return body, fmt.Errorf("%s", why)
	}
	return m.Body, nil
}
