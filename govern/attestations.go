package govern

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/policyres"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// Attestations (Microsoft.PolicyInsights/attestations, policy-language.md
// §19) set the compliance state of a resource under a Manual policy: an
// attestation at a resource (or resource group, or subscription) names an
// assignment (and, for an initiative, the member's reference id) and a
// complianceState; until it expires (expiresOn) the resource's record for
// that policy has that state, else the policy's details.defaultState
// (Unknown by default). They are part of the snapshot (a change
// re-evaluates their scope), are checked against it when written, and
// are deleted with their resource (extension resources).

// TypeAttestation is the attestation type.
const TypeAttestation = "Microsoft.PolicyInsights/attestations"

// attestation is one attestation in force.
type attestation struct {
	assignmentKey, ref string // the assignment's key, the reference id lower-cased
	state              string
	expires            time.Time // zero: never
}

func badAttestation(target, format string, args ...any) error {
	e := arm.Errorf("InvalidAttestation", format, args...)
	e.Target = target
	return e
}

// registerAttestations adds the attestation type to reg.
func (g *Governor) registerAttestations(reg *resources.Registry) {
	reg.Add(&resources.TypeSpec{Type: TypeAttestation, Extension: true, ReadsStore: true, NoProvisioningState: true, Build: g.buildAttestation})
}

// buildAttestation checks an attestation against the assignments in
// force and completes it.
func (g *Governor) buildAttestation(c *resources.Ctx, obj, body, existing value.Value) (value.Value, error) {
	props := body.Field("properties")
	if props.Kind() != value.Object {
		return value.Value{}, badAttestation("properties", "The attestation has no properties: policyAssignmentId and complianceState are required.")
	}
	aid := props.Field("policyAssignmentId")
	if aid.Kind() != value.String || aid.Str() == "" {
		return value.Value{}, badAttestation("properties.policyAssignmentId", "properties.policyAssignmentId is required: the assignment of the Manual policy attested.")
	}
	s, err := g.current(c.Context)
	if err != nil {
		return value.Value{}, err
	}
	as := s.byKey[arm.KeyOf(aid.Str())]
	if as == nil || as.err != nil {
		return value.Value{}, badAttestation("properties.policyAssignmentId", "The policy assignment '%s' does not exist or cannot be evaluated.", arm.Clip(aid.Str(), 300))
	}
	scope := &arm.ID{SubscriptionID: c.ID.SubscriptionID, ResourceGroup: c.ID.ResourceGroup, Parts: c.ID.Parts[:len(c.ID.Parts)-1]}
	if !keyWithin(scope.Key(), arm.KeyOf(canonicalScope(as.a.Scope))) {
		return value.Value{}, badAttestation("properties.policyAssignmentId", "The policy assignment '%s' (scope '%s') does not cover the attested scope '%s'.", as.a.ID, as.a.Scope, scope.String())
	}
	ref := props.Field("policyDefinitionReferenceId").Str()
	var m *member
	switch {
	case as.a.IsSet && ref == "":
		return value.Value{}, badAttestation("properties.policyDefinitionReferenceId", "The policy assignment '%s' assigns an initiative: policyDefinitionReferenceId names the member attested.", as.a.ID)
	case as.a.IsSet:
		if m = as.byRef[strings.ToLower(ref)]; m == nil {
			return value.Value{}, badAttestation("properties.policyDefinitionReferenceId", "The initiative of '%s' has no member '%s'.", as.a.ID, arm.Clip(ref, 128))
		}
	case ref != "":
		return value.Value{}, badAttestation("properties.policyDefinitionReferenceId", "The policy assignment '%s' assigns a single definition: policyDefinitionReferenceId must not be given.", as.a.ID)
	case len(as.members) > 0:
		m = as.members[0]
	}
	if m == nil || m.static && m.effect != policy.Manual {
		return value.Value{}, badAttestation("properties.policyAssignmentId", "Only resources under a Manual policy are attested; the policy of '%s' is not Manual.", as.a.ID)
	}
	state := props.Field("complianceState")
	switch {
	case state.IsUndefined():
		props = props.With("complianceState", value.StringValue(Unknown))
	case state.Kind() == value.String && (state.Str() == Compliant || state.Str() == NonCompliant || state.Str() == Unknown):
	default:
		return value.Value{}, badAttestation("properties.complianceState", "properties.complianceState must be 'Compliant', 'NonCompliant' or 'Unknown', not %s.", arm.Clip(state.JSON(), 64))
	}
	for _, k := range []string{"expiresOn", "assessmentDate"} {
		if v, ok := props.Get(k); ok && !v.IsNullish() {
			if _, err := time.Parse(time.RFC3339Nano, v.Str()); v.Kind() != value.String || err != nil {
				return value.Value{}, badAttestation("properties."+k, "properties.%s must be a date-time (RFC 3339), not %s.", k, arm.Clip(v.JSON(), 64))
			}
		}
	}
	if v, ok := props.Get("comments"); ok && (v.Kind() != value.String && !v.IsNullish() || len(v.Str()) > 5000) {
		return value.Value{}, badAttestation("properties.comments", "properties.comments must be a string of at most 5000 characters.")
	}
	if v, ok := props.Get("evidence"); ok && !v.IsNullish() {
		if v.Kind() != value.Array {
			return value.Value{}, badAttestation("properties.evidence", "properties.evidence must be an array of {description, sourceUri}.")
		}
		for i, e := range v.Elems() {
			if e.Kind() != value.Object {
				return value.Value{}, badAttestation("properties.evidence["+strconv.Itoa(i)+"]", "An evidence must be an object {description, sourceUri}.")
			}
		}
	}
	now := c.Now.UTC().Format(time.RFC3339Nano)
	last := now
	if old := existing.Field("properties"); old.Field("complianceState").Str() == props.Field("complianceState").Str() && old.Field("lastComplianceStateChangeAt").Str() != "" {
		last = old.Field("lastComplianceStateChangeAt").Str()
	}
	props = props.With("lastComplianceStateChangeAt", value.StringValue(last)).With("provisioningState", value.StringValue("Succeeded"))
	return obj.With("properties", props), nil
}

// loadAttestations adds the attestations to a snapshot being built.
func (g *Governor) loadAttestations(ctx context.Context, s *snapshot) error {
	s.attestations = map[string][]*attestation{}
	return listType(ctx, g.st, TypeAttestation, func(res *store.Resource) error {
		v, err := value.Parse(res.Body)
		if err != nil {
			return nil
		}
		id, err := arm.ParseID(res.ID)
		if err != nil || len(id.Parts) == 0 {
			return nil
		}
		p := v.Field("properties")
		at := &attestation{assignmentKey: arm.KeyOf(p.Field("policyAssignmentId").Str()), ref: strings.ToLower(p.Field("policyDefinitionReferenceId").Str()),
			state: p.Field("complianceState").Str()}
		if e, err := time.Parse(time.RFC3339Nano, p.Field("expiresOn").Str()); err == nil {
			at.expires = e
		}
		scope := &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:len(id.Parts)-1]}
		k := policyres.Key(scope.String())
		s.attestations[k] = append(s.attestations[k], at)
		return nil
	})
}

// manualState is the state of a resource (key) under a Manual member:
// its attestation's while it has not expired, else the policy's
// defaultState.
func (s *snapshot) manualState(key string, as *assigned, m *member, res *policy.Result, now time.Time) string {
	for _, at := range s.attestations[key] {
		if at.assignmentKey == as.key && at.ref == strings.ToLower(m.refID) && (at.expires.IsZero() || at.expires.After(now)) {
			return at.state
		}
	}
	switch d := res.Details.Field("defaultState").Str(); d {
	case Compliant, NonCompliant:
		return d
	}
	return Unknown
}
