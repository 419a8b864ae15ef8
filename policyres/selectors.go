package policyres

import (
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// Selector kinds.
const (
	KindResourceLocation        = "resourceLocation"
	KindResourceType            = "resourceType"
	KindResourceWithoutLocation = "resourceWithoutLocation"
	KindReferenceID             = "policyDefinitionReferenceId"
	// SubscriptionLevelResources is the one value of resourceWithoutLocation.
	SubscriptionLevelResources = "subscriptionLevelResources"
)

// Limits from Azure's documentation.
const (
	maxSelectorGroups = 10
	maxOverrides      = 10
	maxSelectorValues = 50
)

// Selector is one selector: a kind and the values it accepts (In) or
// refuses (NotIn); exactly one of the two lists is set.
type Selector struct {
	Kind  string
	In    []string
	NotIn []string
}

// ResourceSelector is a named group of selectors; a resource is selected
// when every selector of the group matches it.
type ResourceSelector struct {
	Name      string
	Selectors []Selector
}

// parseSelector validates one selector against the allowed kinds and
// returns its normalized form.
func parseSelector(v value.Value, ptr definition.Pointer, kinds []string, e *errs) (Selector, value.Value, bool) {
	var s Selector
	if v.Kind() != value.Object {
		e.add(CodeInvalidRequestContent, ptr, "The request content was invalid and could not be deserialized: a selector must be an object, got %s.", kindName(v))
		return s, value.Value{}, false
	}
	k, _ := optString(v, "kind", ptr, 0, e)
	kind, ok := enum(k, kinds...)
	if !ok {
		e.add(CodeInvalidResourceSelectors, ptr.Key("kind"), "The selector kind '%s' is not valid here; expected one of '%s'.", arm.Clip(k, 100), strings.Join(kinds, "', '"))
		return s, value.Value{}, false
	}
	s.Kind = kind
	in, hasIn := optArray(v, "in", ptr, e)
	notIn, hasNotIn := optArray(v, "notIn", ptr, e)
	if hasIn == hasNotIn {
		e.add(CodeInvalidResourceSelectors, ptr, "A selector must have exactly one of 'in' and 'notIn'.")
		return s, value.Value{}, false
	}
	list, key := in, "in"
	if hasNotIn {
		list, key = notIn, "notIn"
	}
	if len(list) == 0 || len(list) > maxSelectorValues {
		e.add(CodeInvalidResourceSelectors, ptr.Key(key), "'%s' must have 1 to %d values, it has %d.", key, maxSelectorValues, len(list))
		return s, value.Value{}, false
	}
	vals := stringList(list, ptr.Key(key), key, e)
	if len(vals) != len(list) {
		return s, value.Value{}, false
	}
	if kind == KindResourceWithoutLocation {
		for i, x := range vals {
			if !strings.EqualFold(x, SubscriptionLevelResources) {
				e.add(CodeInvalidResourceSelectors, ptr.Key(key).Index(i), "The only value of a '%s' selector is '%s'.", KindResourceWithoutLocation, SubscriptionLevelResources)
				return s, value.Value{}, false
			}
			vals[i] = SubscriptionLevelResources
		}
	}
	if hasIn {
		s.In = vals
	} else {
		s.NotIn = vals
	}
	b := value.NewObjectBuilder(2)
	b.Add("kind", value.StringValue(kind))
	b.Add(key, strings2values(vals))
	return s, b.Object(), true
}

func strings2values(l []string) value.Value {
	out := make([]value.Value, len(l))
	for i, s := range l {
		out[i] = value.StringValue(s)
	}
	return value.ArrayValue(out)
}

// parseResourceSelectors validates resourceSelectors (assignments and
// exemptions) and returns them normalized.
func parseResourceSelectors(p value.Value, e *errs) (value.Value, bool) {
	ptr := props.Key("resourceSelectors")
	groups, ok := optArray(p, "resourceSelectors", props, e)
	if !ok {
		return value.Value{}, false
	}
	if len(groups) > maxSelectorGroups {
		e.add(CodeInvalidResourceSelectors, ptr, "There can be at most %d resource selectors, there are %d.", maxSelectorGroups, len(groups))
		return value.Value{}, false
	}
	out := make([]value.Value, 0, len(groups))
	for i, g := range groups {
		gp := ptr.Index(i)
		if g.Kind() != value.Object {
			e.add(CodeInvalidRequestContent, gp, "The request content was invalid and could not be deserialized: a resource selector must be an object, got %s.", kindName(g))
			continue
		}
		name, _ := optString(g, "name", gp, 0, e)
		if name == "" {
			e.add(CodeInvalidRequestContent, gp.Key("name"), "The request content was invalid and could not be deserialized: a resource selector needs a 'name'.")
		}
		sels, _ := optArray(g, "selectors", gp, e)
		if len(sels) == 0 {
			e.add(CodeInvalidResourceSelectors, gp.Key("selectors"), "The resource selector '%s' has no selectors.", name)
			continue
		}
		seen := map[string]bool{}
		norm := make([]value.Value, 0, len(sels))
		for j, sv := range sels {
			s, nv, ok := parseSelector(sv, gp.Key("selectors").Index(j), []string{KindResourceLocation, KindResourceType, KindResourceWithoutLocation}, e)
			if !ok {
				continue
			}
			if seen[s.Kind] {
				e.add(CodeInvalidResourceSelectors, gp.Key("selectors").Index(j).Key("kind"), "The selector kind '%s' appears more than once in the resource selector '%s'.", s.Kind, name)
			}
			seen[s.Kind] = true
			norm = append(norm, nv)
		}
		if seen[KindResourceLocation] && seen[KindResourceWithoutLocation] {
			e.add(CodeInvalidResourceSelectors, gp.Key("selectors"), "The resource selector '%s' cannot have both '%s' and '%s' selectors.", name, KindResourceLocation, KindResourceWithoutLocation)
		}
		b := value.NewObjectBuilder(2)
		b.Add("name", value.StringValue(name))
		b.Add("selectors", value.ArrayValue(norm))
		out = append(out, b.Object())
	}
	return value.ArrayValue(out), true
}

// readSelectors reads stored selectors (already validated).
func readSelectors(v value.Value) []Selector {
	var out []Selector
	for _, sv := range v.Elems() {
		s := Selector{Kind: sv.Field("kind").Str()}
		for _, x := range sv.Field("in").Elems() {
			s.In = append(s.In, x.Str())
		}
		for _, x := range sv.Field("notIn").Elems() {
			s.NotIn = append(s.NotIn, x.Str())
		}
		out = append(out, s)
	}
	return out
}

func readResourceSelectors(v value.Value) []ResourceSelector {
	var out []ResourceSelector
	for _, g := range v.Elems() {
		out = append(out, ResourceSelector{Name: g.Field("name").Str(), Selectors: readSelectors(g.Field("selectors"))})
	}
	return out
}

// Matches reports whether a resource with this location ("" for none) and
// type is selected by every selector of the group. A resource without a
// location matches no resourceLocation selector (in or notIn).
func (g ResourceSelector) Matches(location, typ string) bool {
	loc := arm.NormalizeLocation(location)
	for _, s := range g.Selectors {
		var ok bool
		switch s.Kind {
		case KindResourceLocation:
			if loc == "" {
				return false
			}
			ok = s.test(func(x string) bool { return arm.NormalizeLocation(x) == loc })
		case KindResourceType:
			ok = s.test(func(x string) bool { return value.EqualFold(x, typ) })
		case KindResourceWithoutLocation:
			ok = s.test(func(string) bool { return loc == "" })
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

// test applies the selector: some value matches (In), or none does (NotIn).
func (s Selector) test(match func(string) bool) bool {
	if s.In != nil {
		for _, x := range s.In {
			if match(x) {
				return true
			}
		}
		return false
	}
	for _, x := range s.NotIn {
		if match(x) {
			return false
		}
	}
	return true
}

// selected: no groups, or some group matches.
func selected(groups []ResourceSelector, location, typ string) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		if g.Matches(location, typ) {
			return true
		}
	}
	return false
}
