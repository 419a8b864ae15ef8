package policyres

import (
	"errors"
	"strings"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

// Assignment is the evaluator's view of a stored policy assignment.
type Assignment struct {
	ID          string // the assignment's resource id ("" when the stored body has none)
	Name        string
	DisplayName string
	Description string
	// PolicyDefinitionID names a policy definition or, when IsSet, a
	// policy set definition.
	PolicyDefinitionID string
	IsSet              bool
	DefinitionVersion  string
	Scope              string
	NotScopes          []string
	// Parameters are the plain values by name, as written (match names
	// case-insensitively; policy.Options.Parameters does).
	Parameters map[string]value.Value
	// EnforcementMode is "Default" or "DoNotEnforce"; Enforce is true for
	// Default.
	EnforcementMode string
	Enforce         bool
	// DefaultMessage is the non-compliance message without a reference
	// id; Messages are the others by lower-cased reference id.
	DefaultMessage    string
	Messages          map[string]string
	Overrides         []Override
	ResourceSelectors []ResourceSelector
	Location          string
	Identity          Identity
	Metadata          value.Value

	// scopeKey and notScopeKeys are the comparison keys of Scope and
	// NotScopes (idKey), worked out once by ParseAssignment.
	scopeKey     string
	notScopeKeys []string
}

// Override is one effect override.
type Override struct {
	Kind      string // "policyEffect"
	Value     string // the effect, canonical spelling
	Selectors []Selector
}

// Identity is the assignment's managed identity ("" Type: none).
type Identity struct {
	Type        string
	PrincipalID string
	TenantID    string
	// UserAssigned lists the user-assigned identity resource ids.
	UserAssigned []string
}

// ParseAssignment reads a stored assignment: the ARM resource body
// ({id, name, location, identity, properties}) or its bare properties.
func ParseAssignment(stored value.Value) (*Assignment, error) {
	if stored.Kind() != value.Object {
		return nil, errors.New("policyres: a stored assignment must be a JSON object")
	}
	p, ok := stored.Get("properties")
	if !ok {
		p = stored
	}
	if p.Kind() != value.Object {
		return nil, errors.New("policyres: the assignment's properties must be a JSON object")
	}
	a := &Assignment{
		ID:                 stored.Field("id").Str(),
		Name:               stored.Field("name").Str(),
		DisplayName:        p.Field("displayName").Str(),
		Description:        p.Field("description").Str(),
		PolicyDefinitionID: p.Field("policyDefinitionId").Str(),
		DefinitionVersion:  p.Field("definitionVersion").Str(),
		Scope:              p.Field("scope").Str(),
		EnforcementMode:    EnforcementDefault,
		Messages:           map[string]string{},
		Parameters:         map[string]value.Value{},
		Location:           stored.Field("location").Str(),
		Metadata:           p.Field("metadata"),
	}
	if a.PolicyDefinitionID == "" {
		return nil, errors.New("policyres: the assignment has no policyDefinitionId")
	}
	kind, _ := policyIDKind(a.PolicyDefinitionID)
	a.IsSet = kind == "set"
	if a.Name == "" && a.ID != "" {
		a.Name = a.ID[strings.LastIndexByte(a.ID, '/')+1:]
	}
	if a.Scope == "" && a.ID != "" {
		if i := strings.Index(strings.ToLower(a.ID), "/providers/microsoft.authorization/policyassignments/"); i >= 0 {
			a.Scope = a.ID[:i]
		}
	}
	if a.Scope == "" {
		a.Scope = "/"
	}
	for _, s := range p.Field("notScopes").Elems() {
		a.NotScopes = append(a.NotScopes, s.Str())
	}
	if pv := p.Field("parameters"); pv.Kind() == value.Object {
		for i := 0; i < pv.Len(); i++ {
			k, w := pv.MemberAt(i)
			if v, ok := w.Get("value"); ok {
				a.Parameters[k] = v
			}
		}
	}
	if m, ok := enum(p.Field("enforcementMode").Str(), EnforcementDefault, EnforcementDoNotEnforce); ok {
		a.EnforcementMode = m
	}
	a.Enforce = a.EnforcementMode == EnforcementDefault
	for _, m := range p.Field("nonComplianceMessages").Elems() {
		rid := m.Field("policyDefinitionReferenceId").Str()
		if rid == "" {
			a.DefaultMessage = m.Field("message").Str()
		} else {
			a.Messages[strings.ToLower(rid)] = m.Field("message").Str()
		}
	}
	for _, o := range p.Field("overrides").Elems() {
		a.Overrides = append(a.Overrides, Override{Kind: o.Field("kind").Str(), Value: o.Field("value").Str(), Selectors: readSelectors(o.Field("selectors"))})
	}
	a.ResourceSelectors = readResourceSelectors(p.Field("resourceSelectors"))
	if idv := stored.Field("identity"); idv.Kind() == value.Object {
		a.Identity = Identity{Type: idv.Field("type").Str(), PrincipalID: idv.Field("principalId").Str(), TenantID: idv.Field("tenantId").Str()}
		if strings.EqualFold(a.Identity.Type, "None") {
			a.Identity = Identity{}
		}
		if u := idv.Field("userAssignedIdentities"); u.Kind() == value.Object {
			for i := 0; i < u.Len(); i++ {
				k, v := u.MemberAt(i)
				a.Identity.UserAssigned = append(a.Identity.UserAssigned, k)
				if a.Identity.PrincipalID == "" {
					a.Identity.PrincipalID = v.Field("principalId").Str()
				}
			}
		}
	}
	a.scopeKey = idKey(a.Scope)
	for _, ns := range a.NotScopes {
		a.notScopeKeys = append(a.notScopeKeys, idKey(ns))
	}
	return a, nil
}

// AppliesTo reports whether a resource is in the assignment's scope: at or
// below Scope, not at or below any notScope, and selected by the
// resourceSelectors (any group; location "" for a resource without one).
func (a *Assignment) AppliesTo(resourceID, location, typ string) bool {
	return a.AppliesToKey(idKey(resourceID), nil, location, typ)
}

// AppliesToKey is AppliesTo for a resource id's key (arm.KeyOf of its
// CanonicalID), for callers that test many assignments against one
// resource. above are the keys of the management groups above the
// resource (arm.Tree.Above): a scope or notScope at one of them contains
// it.
func (a *Assignment) AppliesToKey(resourceKey string, above []string, location, typ string) bool {
	if !inScope(a.scopeKey, resourceKey, above) {
		return false
	}
	for _, ns := range a.notScopeKeys {
		if inScope(ns, resourceKey, above) {
			return false
		}
	}
	return selected(a.ResourceSelectors, location, typ)
}

// EffectOverride returns the effect the first matching override sets for
// the initiative member referenceID ("" for a definition assignment): an
// override without selectors matches every member; its selectors must
// all match.
func (a *Assignment) EffectOverride(referenceID string) (string, bool) {
	for _, o := range a.Overrides {
		if !strings.EqualFold(o.Kind, "policyEffect") {
			continue
		}
		ok := true
		for _, s := range o.Selectors {
			if !strings.EqualFold(s.Kind, KindReferenceID) || !s.test(func(x string) bool { return strings.EqualFold(x, referenceID) }) {
				ok = false
				break
			}
		}
		if ok {
			return o.Value, true
		}
	}
	return "", false
}

// Message returns the non-compliance message for an initiative member
// (its own, else the default one), or the default one for "".
func (a *Assignment) Message(referenceID string) string {
	if referenceID != "" {
		if m, ok := a.Messages[strings.ToLower(referenceID)]; ok {
			return m
		}
	}
	return a.DefaultMessage
}

// Exemption is the evaluator's view of a stored policy exemption.
type Exemption struct {
	ID          string
	Name        string
	DisplayName string
	Description string
	// Scope is the exempted scope (the resource the exemption is created
	// on).
	Scope              string
	PolicyAssignmentID string
	// ReferenceIDs are the exempted initiative members; empty: all.
	ReferenceIDs []string
	// Category is "Waiver" or "Mitigated".
	Category string
	// ExpiresOn is zero when the exemption does not expire.
	ExpiresOn                 time.Time
	AssignmentScopeValidation string
	ResourceSelectors         []ResourceSelector
	Metadata                  value.Value

	scopeKey string // idKey(Scope), worked out once by ParseExemption
}

// ParseExemption reads a stored exemption (the ARM resource body or its
// bare properties; the scope comes from the id).
func ParseExemption(stored value.Value) (*Exemption, error) {
	if stored.Kind() != value.Object {
		return nil, errors.New("policyres: a stored exemption must be a JSON object")
	}
	p, ok := stored.Get("properties")
	if !ok {
		p = stored
	}
	if p.Kind() != value.Object {
		return nil, errors.New("policyres: the exemption's properties must be a JSON object")
	}
	x := &Exemption{
		ID:                        stored.Field("id").Str(),
		Name:                      stored.Field("name").Str(),
		DisplayName:               p.Field("displayName").Str(),
		Description:               p.Field("description").Str(),
		PolicyAssignmentID:        p.Field("policyAssignmentId").Str(),
		AssignmentScopeValidation: p.Field("assignmentScopeValidation").Str(),
		Metadata:                  p.Field("metadata"),
	}
	if x.PolicyAssignmentID == "" {
		return nil, errors.New("policyres: the exemption has no policyAssignmentId")
	}
	if c, ok := enum(p.Field("exemptionCategory").Str(), CategoryWaiver, CategoryMitigated); ok {
		x.Category = c
	} else {
		return nil, errors.New("policyres: the exemption has no valid exemptionCategory")
	}
	if x.Name == "" && x.ID != "" {
		x.Name = x.ID[strings.LastIndexByte(x.ID, '/')+1:]
	}
	if i := strings.Index(strings.ToLower(x.ID), "/providers/microsoft.authorization/policyexemptions/"); i >= 0 {
		x.Scope = x.ID[:i]
	}
	for _, r := range p.Field("policyDefinitionReferenceIds").Elems() {
		x.ReferenceIDs = append(x.ReferenceIDs, r.Str())
	}
	if s := p.Field("expiresOn").Str(); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, errors.New("policyres: the exemption's expiresOn is not an RFC 3339 time")
		}
		x.ExpiresOn = t
	}
	x.ResourceSelectors = readResourceSelectors(p.Field("resourceSelectors"))
	x.scopeKey = idKey(x.Scope)
	return x, nil
}

// Covers reports whether the exemption exempts the initiative member
// referenceID ("" for a definition assignment) of the assignment at time
// now: same assignment (ids compared case-insensitively), the member
// listed (or no list), not expired (an exemption stops applying at
// ExpiresOn; it is not deleted).
func (x *Exemption) Covers(assignmentID, referenceID string, now time.Time) bool {
	if idKey(x.PolicyAssignmentID) != idKey(assignmentID) {
		return false
	}
	if !x.ExpiresOn.IsZero() && !now.Before(x.ExpiresOn) {
		return false
	}
	if len(x.ReferenceIDs) == 0 {
		return true
	}
	for _, r := range x.ReferenceIDs {
		if strings.EqualFold(r, referenceID) {
			return true
		}
	}
	return false
}

// AppliesTo reports whether a resource is within the exemption's scope and
// selected by its resourceSelectors. An exemption without a known scope
// (a stored body without id) applies nowhere.
func (x *Exemption) AppliesTo(resourceID, location, typ string) bool {
	return x.AppliesToKey(idKey(resourceID), nil, location, typ)
}

// AppliesToKey is AppliesTo for a resource id's key (see
// Assignment.AppliesToKey).
func (x *Exemption) AppliesToKey(resourceKey string, above []string, location, typ string) bool {
	if x.Scope == "" || !inScope(x.scopeKey, resourceKey, above) {
		return false
	}
	return selected(x.ResourceSelectors, location, typ)
}
