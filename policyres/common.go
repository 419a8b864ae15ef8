package policyres

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// Options are what the Build functions need besides the request.
type Options struct {
	// Aliases is the alias catalog definitions are compiled with. A field
	// naming an alias it does not have is refused when the catalog knows
	// the alias's namespace (InvalidPolicyAlias), and accepted otherwise
	// (the policy is then not applicable, as the engine treats it). Nil:
	// no alias is checked.
	Aliases *alias.Catalog
	// Caller is the object id of the principal writing the resource; it is
	// written to metadata createdBy (on create) and updatedBy (on update),
	// as Azure does.
	Caller string
	// Now is the time written to metadata createdOn/updatedOn; zero means
	// time.Now().
	Now time.Time
}

func (o *Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now().UTC()
	}
	return o.Now.UTC()
}

// request is the common start of every Build: the properties object.
func properties(body value.Value, e *errs) (value.Value, bool) {
	if body.Kind() != value.Object {
		e.add(CodeInvalidRequestContent, "", "The request content was invalid and could not be deserialized: expected a JSON object, got %s.", kindName(body))
		return value.Value{}, false
	}
	p, ok := body.Get("properties")
	if !ok || p.Kind() != value.Object {
		e.add(CodeInvalidRequestContent, props, "The request content was invalid and could not be deserialized: 'properties' must be an object, got %s.", kindName(p))
		return value.Value{}, false
	}
	return p, true
}

// optString reads an optional string property (null counts as absent).
func optString(obj value.Value, key string, ptr definition.Pointer, max int, e *errs) (string, bool) {
	v, ok := obj.Get(key)
	if !ok || v.Kind() == value.Null {
		return "", false
	}
	if v.Kind() != value.String {
		e.add(CodeInvalidRequestContent, ptr.Key(key), "The request content was invalid and could not be deserialized: '%s' must be a string, got %s.", key, kindName(v))
		return "", false
	}
	if max > 0 && len([]rune(v.Str())) > max {
		e.add(CodeInvalidRequestContent, ptr.Key(key), "'%s' is %d characters long; the limit is %d.", key, len([]rune(v.Str())), max)
	}
	return v.Str(), true
}

// optArray reads an optional array property (null counts as absent).
func optArray(obj value.Value, key string, ptr definition.Pointer, e *errs) ([]value.Value, bool) {
	v, ok := obj.Get(key)
	if !ok || v.Kind() == value.Null {
		return nil, false
	}
	if v.Kind() != value.Array {
		e.add(CodeInvalidRequestContent, ptr.Key(key), "The request content was invalid and could not be deserialized: '%s' must be an array, got %s.", key, kindName(v))
		return nil, false
	}
	return v.Elems(), true
}

// stringList reads an array of strings.
func stringList(elems []value.Value, ptr definition.Pointer, what string, e *errs) []string {
	out := make([]string, 0, len(elems))
	for i, v := range elems {
		if v.Kind() != value.String {
			e.add(CodeInvalidRequestContent, ptr.Index(i), "each entry of %s must be a string, got %s", what, kindName(v))
			continue
		}
		out = append(out, v.Str())
	}
	return out
}

// enum matches s against values case-insensitively and returns the
// canonical spelling.
func enum(s string, values ...string) (string, bool) {
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v, true
		}
	}
	return "", false
}

// metadata returns the request's metadata object with the properties
// Azure sets: createdBy/createdOn kept from the stored resource (set now
// on create), updatedBy/updatedOn null on create and set on update. The
// client's values for these four are ignored.
func metadata(p value.Value, existing value.Value, opts *Options, e *errs) value.Value {
	md, ok := p.Get("metadata")
	if !ok || md.Kind() == value.Null {
		md = value.ObjectValue()
	} else if md.Kind() != value.Object {
		e.add(CodeInvalidRequestContent, props.Key("metadata"), "The request content was invalid and could not be deserialized: 'metadata' must be an object, got %s.", kindName(md))
		return value.Value{}
	}
	now := value.StringValue(opts.now().Format(time.RFC3339Nano))
	caller := value.StringValue(opts.Caller)
	if opts.Caller == "" {
		caller = value.NullValue()
	}
	old := existing.Field("properties").Field("metadata")
	for _, k := range []string{"createdBy", "createdOn", "updatedBy", "updatedOn"} {
		md = md.Without(k)
	}
	if existing.IsUndefined() {
		md = md.With("createdBy", caller).With("createdOn", now).
			With("updatedBy", value.NullValue()).With("updatedOn", value.NullValue())
	} else {
		cb, co := old.Field("createdBy"), old.Field("createdOn")
		if cb.IsUndefined() {
			cb = value.NullValue()
		}
		if co.IsUndefined() {
			co = value.NullValue()
		}
		md = md.With("createdBy", cb).With("createdOn", co).With("updatedBy", caller).With("updatedOn", now)
	}
	return md
}

// scopeContainsIn is ScopeContains, or scope is at a management group
// above id (through r's hierarchy).
func scopeContainsIn(r Resolver, scope, id string) bool {
	if ScopeContains(scope, id) {
		return true
	}
	h, ok := r.(GroupsAbove)
	if !ok {
		return false
	}
	sk := idKey(scope)
	for _, g := range h.GroupsAbove(idKey(id)) {
		if g == sk {
			return true
		}
	}
	return false
}

// GroupsAbove is implemented by a Resolver that knows the management-group
// hierarchy: the keys of the groups above a scope key (arm.Tree.Above).
type GroupsAbove interface {
	GroupsAbove(key string) []string
}

// lookup errors: not found is a refusal, anything else the caller's.
func notFound(err error) bool { return errors.Is(err, ErrNotFound) }

// resolveDefinition resolves a policyDefinitionId that must name a policy
// definition visible from scope (a built-in, or a custom definition of
// the scope's subscription).
func resolveDefinition(ctx context.Context, r Resolver, id, scope string, ptr definition.Pointer, e *errs) (*definition.Definition, error) {
	kind, pid := policyIDKind(id)
	if kind != "definition" || !visible(r, pid, scope) {
		e.add(CodePolicyDefinitionNotFound, ptr, "The policy definition '%s' could not be found.", arm.Clip(id, 300))
		return nil, nil
	}
	d, _, err := r.PolicyDefinition(ctx, CanonicalID(id))
	if err != nil {
		if notFound(err) {
			e.add(CodePolicyDefinitionNotFound, ptr, "The policy definition '%s' could not be found.", arm.Clip(id, 300))
			return nil, nil
		}
		return nil, err
	}
	return d, nil
}

// visible: a definition at a subscription is visible only under it; one
// at a management group at that group and below it (through r's
// hierarchy: GroupsAbove); a built-in (tenant) one everywhere.
func visible(r Resolver, pid *arm.ID, scope string) bool {
	if g := pid.ManagementGroup(); g != "" && len(pid.Parts) == 2 {
		gk := idKey(arm.ManagementGroupID(g))
		if keyContains(gk, idKey(scope)) {
			return true
		}
		if h, ok := r.(GroupsAbove); ok {
			for _, a := range h.GroupsAbove(idKey(scope)) {
				if a == gk {
					return true
				}
			}
		}
		return false
	}
	if len(pid.Parts) > 1 {
		return false
	}
	if pid.SubscriptionID == "" {
		return true
	}
	return ScopeContains("/subscriptions/"+pid.SubscriptionID, scope)
}

var paramRef = regexp.MustCompile(`(?i)parameters\s*\(\s*'((?:[^']|'')*)'\s*\)`)
var dynamicParamRef = regexp.MustCompile(`(?i)parameters\s*\(\s*[^'\s]`)

// usedParameters collects the (lower-cased) parameter names the template
// expressions in v refer to; dynamic reports a parameters() call whose
// name is computed, after which every parameter counts as used.
func usedParameters(v value.Value, used map[string]bool, depth int) (dynamic bool) {
	if depth > 200 {
		return true
	}
	switch v.Kind() {
	case value.String:
		s := v.Str()
		if !strings.HasPrefix(s, "[") || strings.HasPrefix(s, "[[") {
			return false
		}
		for _, m := range paramRef.FindAllStringSubmatch(s, -1) {
			used[strings.ToLower(strings.ReplaceAll(m[1], "''", "'"))] = true
		}
		return dynamicParamRef.MatchString(s)
	case value.Array:
		for _, c := range v.Elems() {
			if usedParameters(c, used, depth+1) {
				dynamic = true
			}
		}
	case value.Object:
		for i := 0; i < v.Len(); i++ {
			_, c := v.MemberAt(i)
			if usedParameters(c, used, depth+1) {
				dynamic = true
			}
		}
	}
	return dynamic
}

// checkUnused refuses declared parameters that nothing uses.
func checkUnused(params []*definition.Parameter, where value.Value, e *errs) {
	used := map[string]bool{}
	if usedParameters(where, used, 0) {
		return
	}
	var unused []string
	var first definition.Pointer
	for _, p := range params {
		if !used[strings.ToLower(p.Name)] {
			if first == "" {
				first = p.Pointer
			}
			unused = append(unused, p.Name)
		}
	}
	if len(unused) > 0 {
		e.add(CodeUnusedPolicyParameters, first, "The policy parameter(s) '%s' are declared but not used.", strings.Join(unused, ", "))
	}
}

// put adds key to b when v is defined.
func put(b *value.ObjectBuilder, key string, v value.Value) {
	if !v.IsUndefined() {
		b.Add(key, v)
	}
}

// addString adds a string property to a stored body unless it is empty
// (Azure leaves absent optional text out).
func addString(b *value.ObjectBuilder, key, v string) {
	if v != "" {
		b.Add(key, value.StringValue(v))
	}
}
