package govern

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// The PolicyInsights record of a State (policy-language.md §18), as
// stored and returned by queryResults.

// recordFields are the record's properties in the order they are
// written; $select names them (case-insensitively).
var recordFields = []string{
	"@odata.id", "@odata.context", "timestamp", "resourceId", "policyAssignmentId", "policyDefinitionId",
	"effectiveParameters", "isCompliant", "subscriptionId", "resourceType", "resourceLocation", "resourceGroup",
	"resourceTags", "policyAssignmentName", "policyAssignmentOwner", "policyAssignmentParameters",
	"policyAssignmentScope", "policyDefinitionName", "policyDefinitionAction", "policyDefinitionCategory",
	"policySetDefinitionId", "policySetDefinitionName", "policySetDefinitionOwner", "policySetDefinitionCategory",
	"policySetDefinitionParameters", "managementGroupIds", "policyDefinitionReferenceId", "complianceState",
	"policyDefinitionGroupNames", "policyDefinitionVersion", "policySetDefinitionVersion", "policyAssignmentVersion",
	"policyEvaluationDetails",
}

// record renders a State as the PolicyInsights record (JSON object).
func record(st *State) value.Value {
	s := value.StringValue
	tags := "{}"
	if st.ResourceTags.Kind() == value.Object {
		tags = st.ResourceTags.JSON()
	}
	params := "{}"
	if st.AssignmentParameters.Kind() == value.Object {
		params = st.AssignmentParameters.JSON()
	}
	groups := make([]value.Value, len(st.GroupNames))
	for i, g := range st.GroupNames {
		groups[i] = s(g)
	}
	ms := []value.Member{
		{Key: "@odata.id", Value: value.NullValue()},
		{Key: "@odata.context", Value: s("https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#latest/$entity")},
		{Key: "timestamp", Value: s(st.Timestamp.UTC().Format("2006-01-02T15:04:05.0000000Z"))},
		{Key: "resourceId", Value: s(st.ResourceID)},
		{Key: "policyAssignmentId", Value: s(st.AssignmentID)},
		{Key: "policyDefinitionId", Value: s(st.DefinitionID)},
		{Key: "effectiveParameters", Value: s("")},
		{Key: "isCompliant", Value: value.BoolValue(st.ComplianceState == Compliant)},
		{Key: "subscriptionId", Value: s(st.SubscriptionID)},
		{Key: "resourceType", Value: s(st.ResourceType)},
		{Key: "resourceLocation", Value: s(st.ResourceLocation)},
		{Key: "resourceGroup", Value: s(st.ResourceGroup)},
		{Key: "resourceTags", Value: s(tags)},
		{Key: "policyAssignmentName", Value: s(st.AssignmentName)},
		{Key: "policyAssignmentOwner", Value: s("tbd")},
		{Key: "policyAssignmentParameters", Value: s(params)},
		{Key: "policyAssignmentScope", Value: s(st.AssignmentScope)},
		{Key: "policyDefinitionName", Value: s(st.DefinitionName)},
		{Key: "policyDefinitionAction", Value: s(st.Action)},
		{Key: "policyDefinitionCategory", Value: s("tbd")},
		{Key: "policySetDefinitionId", Value: s(st.SetID)},
		{Key: "policySetDefinitionName", Value: s(st.SetName)},
		{Key: "policySetDefinitionOwner", Value: s("")},
		{Key: "policySetDefinitionCategory", Value: s("")},
		{Key: "policySetDefinitionParameters", Value: s("")},
		{Key: "managementGroupIds", Value: s("")},
		{Key: "policyDefinitionReferenceId", Value: s(st.RefID)},
		{Key: "complianceState", Value: s(st.ComplianceState)},
		{Key: "policyDefinitionGroupNames", Value: value.ArrayValue(groups)},
		{Key: "policyDefinitionVersion", Value: s("")},
		{Key: "policySetDefinitionVersion", Value: s("")},
		{Key: "policyAssignmentVersion", Value: s("")},
	}
	if !st.Details.IsUndefined() {
		ms = append(ms, value.Member{Key: "policyEvaluationDetails", Value: st.Details})
	}
	if len(st.ExemptionIDs) > 0 {
		ids := make([]value.Value, len(st.ExemptionIDs))
		for i, x := range st.ExemptionIDs {
			ids[i] = s(x)
		}
		ms = append(ms, value.Member{Key: "policyExemptionIds", Value: value.ArrayValue(ids)})
	}
	return value.ObjectValue(ms...)
}

// The store's row of a State (storedAs) keeps in its body only what the
// row's columns and the snapshot cannot give back: the resource id as
// written (as the positions of its capitals in the key, "u", when the
// key is the id in lower case; else "id"), its location and tags and the
// exemptions; the evaluation details are worked out again when a query
// expands them, the time is the row's. A scan writes hundreds of
// thousands of rows, and the cost of writing one grows with its bytes;
// the full record is made again when it is read (snapshot.render).

// resourceRow is what the rows of one resource's States share: their
// keys and, but for exemptions, their body.
type resourceRow struct {
	key, sub, rg, typ string
	body              []byte // without the closing brace
}

// resourceRowOf works out st's resource's part of its rows.
func resourceRowOf(st *State) *resourceRow {
	key := arm.KeyOf(st.ResourceID)
	b := make([]byte, 0, 64)
	if caps, ok := capitals(st.ResourceID, key); ok {
		b = append(b, `{"u":[`...)
		for i, p := range caps {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(p), 10)
		}
		b = append(b, ']')
	} else {
		b = append(b, `{"id":`...)
		b = value.AppendJSON(b, value.StringValue(st.ResourceID))
	}
	if st.ResourceLocation != "" {
		b = append(b, `,"loc":`...)
		b = value.AppendJSON(b, value.StringValue(st.ResourceLocation))
	}
	if st.ResourceTags.Kind() == value.Object && st.ResourceTags.Len() > 0 {
		b = append(b, `,"tags":`...)
		b = value.AppendJSON(b, st.ResourceTags)
	}
	return &resourceRow{key: key, sub: arm.KeyOf(st.SubscriptionID), rg: arm.KeyOf(st.ResourceGroup), typ: arm.KeyOf(st.ResourceType), body: b}
}

// storedAs is stored with st's resource's part worked out already (rr,
// of a State of the same resource).
func storedAs(st *State, rr *resourceRow) *store.PolicyState {
	var b []byte
	if len(st.ExemptionIDs) == 0 {
		b = append(rr.body[:len(rr.body):len(rr.body)], '}')
	} else {
		b = append(append([]byte(nil), rr.body...), `,"x":[`...)
		for i, x := range st.ExemptionIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = value.AppendJSON(b, value.StringValue(x))
		}
		b = append(b, "]}"...)
	}
	return &store.PolicyState{
		ResourceKey: rr.key, AssignmentKey: st.assignmentKey, ReferenceKey: st.refKey,
		SubscriptionKey: rr.sub, ResourceGroupKey: rr.rg, ResourceTypeKey: rr.typ,
		DefinitionKey: st.definitionKey, SetKey: st.setKey, State: st.ComplianceState, Action: st.Action,
		Timestamp: st.Timestamp, Body: b,
	}
}

// render makes the PolicyInsights record of a stored row again; false
// when the row's assignment is no longer in force (its records are being
// deleted) or the row does not parse.
func (s *snapshot) render(ps *store.PolicyState) (value.Value, bool) {
	as := s.byKey[ps.AssignmentKey]
	if as == nil {
		return value.Value{}, false
	}
	b, err := value.Parse(ps.Body)
	if err != nil {
		return value.Value{}, false
	}
	rid := b.Field("id").Str()
	if u, ok := b.Get("u"); ok {
		rid = withCapitals(ps.ResourceKey, u.Elems())
	}
	id, err := arm.ParseID(rid)
	if err != nil {
		return value.Value{}, false
	}
	st := State{
		ResourceID: rid, ResourceType: id.Type(), ResourceLocation: b.Field("loc").Str(), ResourceGroup: id.ResourceGroup,
		SubscriptionID: id.SubscriptionID, ResourceTags: b.Field("tags"),
		AssignmentID: as.a.ID, AssignmentName: as.a.Name, AssignmentScope: as.a.Scope, AssignmentParameters: as.params,
		DefinitionID: as.a.PolicyDefinitionID, Action: ps.Action, ComplianceState: ps.State,
		Timestamp: ps.Timestamp.UTC(),
	}
	if id.IsResourceGroup() {
		st.ResourceType = "Microsoft.Resources/resourceGroups"
	}
	if m := as.byRef[ps.ReferenceKey]; m != nil {
		st.DefinitionID, st.DefinitionName = m.def.ID, m.def.Name
		st.SetID, st.SetName, st.RefID, st.GroupNames = m.setID, m.setName, m.refID, m.groups
	}
	for _, x := range b.Field("x").Elems() {
		st.ExemptionIDs = append(st.ExemptionIDs, x.Str())
	}
	return record(&st), true
}

// project is a record with only fields (canonical names; nil: all).
func project(rec []byte, fields []string) json.RawMessage {
	if len(fields) == 0 {
		return rec
	}
	v, err := value.Parse(rec)
	if err != nil {
		return rec
	}
	var ms []value.Member
	for _, f := range fields {
		if fv, ok := v.Get(f); ok {
			ms = append(ms, value.Member{Key: f, Value: fv})
		}
	}
	return json.RawMessage(value.ObjectValue(ms...).JSON())
}

// capitals returns the byte positions at which id differs from key, its
// lower-case form: id is key with those letters in upper case. False when
// id is not ASCII or key is not its lower case.
func capitals(id, key string) ([]int, bool) {
	if len(id) != len(key) {
		return nil, false
	}
	var caps []int
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= utf8.RuneSelf:
			return nil, false
		case c == key[i]:
		case 'A' <= c && c <= 'Z' && c+('a'-'A') == key[i]:
			caps = append(caps, i)
		default:
			return nil, false
		}
	}
	return caps, true
}

// withCapitals is capitals' inverse: key with the letters at the
// positions of caps in upper case (positions out of range are ignored).
func withCapitals(key string, caps []value.Value) string {
	b := []byte(key)
	for _, p := range caps {
		if i := int(p.Int()); i >= 0 && i < len(b) && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}
