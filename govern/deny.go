package govern

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// refuse builds the 403 RequestDisallowedByPolicy of resource-model.md
// §3.6 for the denying members (their conditions evaluated again with
// Explain for evaluationDetails) and the members that failed to evaluate
// (an evaluation error is an implicit deny), and records the deny event.
func (g *Governor) refuse(a *resources.Attributes, obj value.Value, denies, failed []*hit) error {
	name := a.ID.Name()
	var infos []map[string]any
	var idents []map[string]any
	var reasons []string
	all := append(append([]*hit(nil), denies...), failed...)
	for _, h := range all {
		info := policyIdentity(h)
		as := h.as.a
		info["policyAssignmentDisplayName"] = as.DisplayName
		info["policyExemptionIds"] = []string{}
		details := map[string]any{}
		if h.m != nil {
			info["policyDefinitionDisplayName"] = h.m.def.DisplayName
			in := input(a, obj, h.m)
			in.Explain = true
			details["evaluatedExpressions"] = expressions(h.m.prog.Evaluate(in).Expressions)
		}
		ref := ""
		if h.m != nil {
			ref = h.m.refID
		}
		reason := as.Message(ref)
		switch {
		case h.m == nil || h.as.err != nil:
			reason = fmt.Sprintf("The policy assignment '%s' could not be evaluated: %v", as.Name, h.as.err)
			info["policyDefinitionEffect"] = "Deny"
		case h.res.Err != nil:
			reason = fmt.Sprintf("The policy '%s' of assignment '%s' could not be evaluated against the request: %v", displayName(h), as.Name, h.res.Err)
		}
		if reason != "" {
			details["reason"] = reason
			reasons = append(reasons, reason)
		}
		info["evaluationDetails"] = details
		infos = append(infos, map[string]any{"type": "PolicyViolation", "info": info})
		id := map[string]any{
			"policyAssignment": map[string]string{"name": as.Name, "id": as.ID},
			"policyDefinition": map[string]string{"name": defName(h), "id": defID(h)},
		}
		if h.m != nil && h.m.setID != "" {
			id["policySetDefinition"] = map[string]string{"name": h.m.setName, "id": h.m.setID}
		}
		idents = append(idents, id)
	}
	msg := ""
	if len(reasons) > 0 {
		msg = fmt.Sprintf("Resource '%s' was disallowed by policy. Reasons: '%s'. See error details for policy resource IDs.", name, strings.Join(reasons, "', '"))
	} else {
		b, _ := json.Marshal(idents)
		msg = fmt.Sprintf("Resource '%s' was disallowed by policy. Policy identifiers: '%s'.", name, b)
	}
	e := &arm.Error{Code: "RequestDisallowedByPolicy", Message: msg, Target: name, AdditionalInfo: infos}
	effect := "deny"
	if a.Operation == resources.OpDelete {
		effect = "denyAction"
	}
	g.record(a, &a.RefusalEvents, effect, all)
	return e
}

// record appends to evs one Policy event for the members that had the
// effect (none when hits is empty).
func (g *Governor) record(a *resources.Attributes, evs *[]*store.Event, effect string, hits []*hit) {
	if len(hits) == 0 {
		return
	}
	r := a.Request
	op := activitylog.Op{OperationName: a.Action, ResourceID: a.ID.String(), ResourceType: a.Spec.Type,
		SubscriptionID: a.ID.SubscriptionID, ResourceGroup: a.ID.ResourceGroup, OperationID: g.newID(), Caller: a.Principal}
	if r != nil {
		op.CorrelationID, op.Method, op.ClientRequestID, op.ClientIP = r.CorrelationID, r.Method, r.ClientRequestID, r.ClientIP
	}
	loc := a.Object.Field("location").Str()
	if loc == "" {
		loc = a.OldObject.Field("location").Str()
	}
	*evs = append(*evs, activitylog.PolicyEvent(op, effect, policiesJSON(hits), loc, g.newID(), a.Now))
}

// expressions renders evaluated conditions as Azure's
// ExpressionEvaluationDetails ("True"/"False" results).
func expressions(exprs []policy.ExpressionResult) []map[string]any {
	out := make([]map[string]any, 0, len(exprs))
	for _, x := range exprs {
		r := "False"
		if x.Result {
			r = "True"
		}
		e := map[string]any{"result": r, "expressionKind": x.Kind, "expression": x.Expression, "operator": x.Operator}
		if x.Path != "" {
			e["path"] = x.Path
		}
		if !x.Value.IsUndefined() {
			e["expressionValue"] = x.Value
		}
		if !x.Target.IsUndefined() {
			e["targetValue"] = x.Target
		}
		out = append(out, e)
	}
	return out
}

func displayName(h *hit) string {
	if h.m != nil && h.m.def.DisplayName != "" {
		return h.m.def.DisplayName
	}
	return defName(h)
}

func defName(h *hit) string {
	if h.m != nil {
		return h.m.def.Name
	}
	id := h.as.a.PolicyDefinitionID
	return id[strings.LastIndexByte(id, '/')+1:]
}

func defID(h *hit) string {
	if h.m != nil {
		return h.m.def.ID
	}
	return h.as.a.PolicyDefinitionID
}
