package policytest

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// runRegorus runs a regorus policy case file: a policy_rule or
// policy_definition (file- or case-level), an optional alias catalog file
// under ../aliases/, and cases with want_effect / want_undefined /
// want_details / want_parse_error / want_compile_error.
func (r *Runner) runRegorus(path string, doc map[string]any, sum *Summary) {
	var cat *alias.Catalog
	if a, ok := doc["aliases"].(string); ok && a != "" {
		c, err := r.catalog(filepath.Join(filepath.Dir(path), "..", "aliases", a))
		if err != nil {
			sum.add(Outcome{File: path, Status: Fail, Detail: "loading aliases: " + err.Error()})
			return
		}
		cat = c
	}
	cases, _ := doc["cases"].([]any)
	for i, ci := range cases {
		m, ok := ci.(map[string]any)
		if !ok {
			sum.add(Outcome{File: path, Case: fmt.Sprintf("case %d", i), Status: Fail, Detail: "case is not a mapping"})
			continue
		}
		name := caseName(m, i)
		if skip, _ := m["skip"].(bool); skip {
			sum.add(Outcome{File: path, Case: name, Status: Skip, Detail: "marked skip: true in the case file"})
			continue
		}
		o := r.regorusCase(path, doc, m, cat)
		o.File, o.Case = path, name
		sum.add(o)
	}
}

func (r *Runner) regorusCase(path string, doc, m map[string]any, cat *alias.Catalog) Outcome {
	src, _ := m["policy_definition"].(string)
	if src == "" {
		src, _ = m["policy_rule"].(string)
	}
	if src == "" {
		src, _ = doc["policy_definition"].(string)
	}
	if src == "" {
		src, _ = doc["policy_rule"].(string)
	}
	if src == "" {
		return Outcome{Status: Fail, Detail: "case has no policy_rule or policy_definition"}
	}
	wantParseErr, _ := m["want_parse_error"].(bool)
	wantCompileErr, _ := m["want_compile_error"].(bool)

	params := map[string]value.Value{}
	if pm, ok := m["parameters"].(map[string]any); ok {
		for k, v := range pm {
			pv, err := toValue(v)
			if err != nil {
				return Outcome{Status: Fail, Detail: "parameters: " + err.Error()}
			}
			params[k] = pv
		}
	}
	d, err := definition.Parse([]byte(src))
	if err != nil {
		if wantParseErr || wantCompileErr {
			return Outcome{Status: Pass, Detail: "rejected: " + err.Error()}
		}
		return Outcome{Status: Fail, Detail: "unexpected load error: " + err.Error()}
	}
	if d.Kind == definition.KindPolicySet {
		return Outcome{Status: Skip, Detail: "initiative given as a policy case"}
	}
	prog, err := policy.Compile(d.Policy, policy.Options{Aliases: cat, Parameters: params, AllowExtraParameters: true, AllowMissingParameters: true})
	if err != nil {
		if wantParseErr || wantCompileErr {
			return Outcome{Status: Pass, Detail: "rejected: " + err.Error()}
		}
		return Outcome{Status: Fail, Detail: "unexpected compile error: " + err.Error()}
	}
	if wantParseErr || wantCompileErr {
		return Outcome{Status: Fail, Detail: "expected the policy to be rejected, but it compiled"}
	}

	in := &policy.Input{Explain: true}
	res, err := toValue(m["resource"])
	if err != nil {
		return Outcome{Status: Fail, Detail: "resource: " + err.Error()}
	}
	if cat != nil {
		res = CanonicalizeAliases(Canonicalize(res), cat)
	}
	in.Resource = res
	if av, ok := m["api_version"].(string); ok {
		// The harness's api_version is the resource's api-version: it
		// selects alias paths and is what field('apiVersion') reads.
		in.APIVersion = av
		in.Resource = in.Resource.With("apiVersion", value.StringValue(av))
		in.RequestContext = value.ObjectValue(value.Member{Key: "apiVersion", Value: value.StringValue(av)})
	}
	ctx := value.ObjectValue(
		value.Member{Key: "resourceGroup", Value: value.ObjectValue(
			value.Member{Key: "name", Value: value.StringValue("myResourceGroup")},
			value.Member{Key: "location", Value: value.StringValue("eastus")})},
		value.Member{Key: "subscription", Value: value.ObjectValue(
			value.Member{Key: "subscriptionId", Value: value.StringValue("00000000-0000-0000-0000-000000000000")})})
	if c, ok := m["context"]; ok {
		cv, err := toValue(c)
		if err != nil {
			return Outcome{Status: Fail, Detail: "context: " + err.Error()}
		}
		ctx = cv
	}
	in.ResourceGroup = ctx.Field("resourceGroup")
	in.Subscription = ctx.Field("subscription")
	in.Policy = ctx.Field("policy")
	if now := ctx.Field("utcNow"); now.Kind() == value.String {
		t, err := time.Parse(time.RFC3339Nano, now.Str())
		if err != nil {
			return Outcome{Status: Fail, Detail: "context.utcNow: " + err.Error()}
		}
		in.Now = t
	}
	if rc := ctx.Field("requestContext"); !rc.IsUndefined() {
		in.RequestContext = rc
	}
	if rc, ok := m["request_context"]; ok {
		v, err := toValue(rc)
		if err != nil {
			return Outcome{Status: Fail, Detail: "request_context: " + err.Error()}
		}
		if ctx.Field("requestContext").IsUndefined() {
			in.RequestContext = v
		}
	}
	if ha, ok := m["host_await"].([]any); ok && len(ha) > 0 {
		// The harness answers the one existence lookup with the first
		// entry (null = not found).
		var rel []value.Value
		for _, e := range ha[:1] {
			em, _ := e.(map[string]any)
			resp, err := toValue(em["response"])
			if err != nil {
				return Outcome{Status: Fail, Detail: "host_await: " + err.Error()}
			}
			if resp.Kind() != value.Object {
				continue
			}
			if cat != nil {
				resp = Canonicalize(resp)
			}
			rel = append(rel, resp)
		}
		in.Lookup = listLookup(rel)
	}
	out := prog.Evaluate(in)
	return judge(out, m)
}

// listLookup answers every existence check with the same resources (the
// regorus host_await responses, which the harness gives without ids).
type listLookup []value.Value

func (l listLookup) Related(q *policy.RelatedQuery) ([]value.Value, error) { return l, nil }

// judge compares a result with want_effect / want_undefined / want_details.
func judge(res policy.Result, m map[string]any) Outcome {
	explain := explainResult(res)
	if u, _ := m["want_undefined"].(bool); u {
		if res.Effect != policy.None {
			return Outcome{Status: Fail, Detail: fmt.Sprintf("want no effect, got %s%s", res.EffectName, explain)}
		}
		if res.Err != nil {
			return Outcome{Status: Pass, Detail: "no effect (evaluation error: " + res.Err.Error() + ")"}
		}
		return Outcome{Status: Pass}
	}
	want, ok := m["want_effect"].(string)
	if !ok {
		if res.Err != nil {
			return Outcome{Status: Fail, Detail: "evaluation error: " + res.Err.Error()}
		}
		return Outcome{Status: Pass, Detail: "no expectation given; evaluated without error"}
	}
	if res.Err != nil {
		return Outcome{Status: Fail, Detail: fmt.Sprintf("want effect %s, got evaluation error: %v%s", want, res.Err, explain)}
	}
	details, hasDetails := m["want_details"]
	return judgeEffect(res, want, details, hasDetails, "want_details")
}

// judgeEffect checks that a result has the wanted effect (by the name as
// written or the canonical name, case-insensitively) and, when given, that
// its details contain the wanted ones.
func judgeEffect(res policy.Result, want string, details any, hasDetails bool, label string) Outcome {
	if res.Effect == policy.None {
		return Outcome{Status: Fail, Detail: fmt.Sprintf("want %s, got no effect%s", want, explainResult(res))}
	}
	if !strings.EqualFold(want, res.EffectName) && !strings.EqualFold(want, res.Effect.String()) {
		return Outcome{Status: Fail, Detail: fmt.Sprintf("want %s, got %s", want, res.EffectName)}
	}
	if hasDetails {
		w, err := toValue(details)
		if err != nil {
			return Outcome{Status: Fail, Detail: label + ": " + err.Error()}
		}
		if ok, msg := subset(w, res.Details, ""); !ok {
			return Outcome{Status: Fail, Detail: msg + "\n    got details: " + res.Details.JSON()}
		}
	}
	return Outcome{Status: Pass}
}

func explainResult(res policy.Result) string {
	var b strings.Builder
	if res.Reason != "" {
		fmt.Fprintf(&b, " (not applicable: %s)", res.Reason)
	}
	for _, e := range res.Expressions {
		fmt.Fprintf(&b, "\n    %s %s [%s] %s %s -> %v", e.Kind, e.Expression, e.Value.JSON(), e.Operator, e.Target.JSON(), e.Result)
	}
	return b.String()
}

// rootFields are the envelope properties of an ARM resource; everything
// else belongs under "properties".
var rootFields = []string{"name", "type", "location", "kind", "id", "tags", "identity", "sku", "plan",
	"zones", "managedBy", "etag", "apiVersion", "fullName", "systemData", "extendedLocation", "properties"}

func isRootField(k string) bool {
	for _, f := range rootFields {
		if value.EqualFold(f, k) {
			return true
		}
	}
	return false
}

// Canonicalize turns a test resource written in regorus's loose style into
// an ARM-shaped resource: envelope fields misplaced under "properties"
// (such as properties.tags) move to the root unless the root has them, and
// non-envelope fields at the root move under "properties".
func Canonicalize(r value.Value) value.Value {
	if r.Kind() != value.Object {
		return r
	}
	props := r.Field("properties")
	var root []value.Member
	var moved []value.Member
	for i := 0; i < r.Len(); i++ {
		k, v := r.MemberAt(i)
		if value.EqualFold(k, "properties") {
			continue
		}
		if isRootField(k) {
			root = append(root, value.Member{Key: k, Value: v})
		} else {
			moved = append(moved, value.Member{Key: k, Value: v})
		}
	}
	var newProps []value.Member
	if props.Kind() == value.Object {
		for i := 0; i < props.Len(); i++ {
			k, v := props.MemberAt(i)
			if isRootField(k) && !value.EqualFold(k, "properties") {
				if _, ok := r.Get(k); !ok {
					// Visible at the root too (regorus flattens properties).
					root = append(root, value.Member{Key: k, Value: v})
				}
			}
			newProps = append(newProps, value.Member{Key: k, Value: v})
		}
	}
	for _, mv := range moved {
		dup := false
		for _, np := range newProps {
			if value.EqualFold(np.Key, mv.Key) {
				dup = true
			}
		}
		if !dup {
			newProps = append(newProps, mv)
		}
	}
	if props.Kind() == value.Object || len(newProps) > 0 {
		root = append(root, value.Member{Key: "properties", Value: value.ObjectValue(newProps...)})
	} else if !props.IsUndefined() {
		root = append(root, value.Member{Key: "properties", Value: props})
	}
	return value.ObjectValue(root...)
}

// CanonicalizeAliases completes a canonicalized test resource for a
// catalog: where a test wrote a property at its alias short name (e.g.
// properties.datasource.Microsoft-ServiceBus-EventHub.serviceBusNamespace
// for the alias ".../datasource.Microsoft-ServiceBus-EventHub.serviceBusNamespace")
// and the alias's real path is empty, the value is copied to the real path,
// as regorus's alias normalization makes both spellings equivalent.
func CanonicalizeAliases(r value.Value, cat *alias.Catalog) value.Value {
	typ := r.Field("type").Str()
	if cat == nil || typ == "" {
		return r
	}
	var cands []*alias.Alias
	for t := typ; strings.Count(t, "/") >= 1; t = t[:strings.LastIndexByte(t, '/')] {
		cands = append(cands, cat.AliasesOf(t)...)
	}
	for _, a := range cands {
		short := a.Name
		if len(short) > len(typ)+1 && value.EqualFold(short[:len(typ)], typ) && short[len(typ)] == '/' {
			short = short[len(typ)+1:]
		} else {
			continue
		}
		sp, err := value.ParsePath(short)
		if err != nil {
			continue
		}
		real := a.DefaultPath
		if i, j := firstWildcard(sp), firstWildcard(real); i >= 0 && j >= 0 && j+1 < len(real) && value.EqualFold(real[j+1].Key, "properties") {
			// A sub-resource array (securityRules[*].properties.protocol):
			// members written flat ({protocol: Tcp}) get their properties
			// object, as regorus flattens members the other way round.
			r = wrapMembers(r, real[:j], real[j+2:], sp[i+1:])
		}
		if i := firstWildcard(sp); i >= 0 {
			sp = sp[:i]
			if j := firstWildcard(real); j >= 0 {
				real = real[:j]
			} else {
				continue
			}
		}
		if len(real) == 0 || present(r.At(real)) {
			continue
		}
		v := r.At(append(value.Path{{Key: "properties"}}, sp...))
		if !present(v) {
			continue
		}
		r = setPath(r, real, v)
	}
	return r
}

func present(v value.Value) bool { return v.Kind() > value.Null }

// wrapMembers moves a flat member property (rest, relative to the member)
// under the member's "properties" (sub) where only the flat spelling exists.
func wrapMembers(r value.Value, arr, sub, rest value.Path) value.Value {
	if firstWildcard(arr) >= 0 || firstWildcard(sub) >= 0 || firstWildcard(rest) >= 0 || len(rest) == 0 {
		return r
	}
	a := r.At(arr)
	if a.Kind() != value.Array {
		return r
	}
	changed := false
	out := make([]value.Value, a.Len())
	for k, m := range a.Elems() {
		out[k] = m
		if m.Kind() != value.Object || present(m.At(append(value.Path{{Key: "properties"}}, sub...))) {
			continue
		}
		if v := m.At(rest); present(v) {
			out[k] = setPath(m, append(value.Path{{Key: "properties"}}, sub...), v)
			changed = true
		}
	}
	if !changed {
		return r
	}
	return setPath(r, arr, value.ArrayValue(out))
}

func firstWildcard(p value.Path) int {
	for i, s := range p {
		if s.Any {
			return i
		}
	}
	return -1
}

// setPath returns a copy of r with the value at p (no wildcards) set,
// creating objects on the way.
func setPath(r value.Value, p value.Path, v value.Value) value.Value {
	if len(p) == 0 {
		return v
	}
	child := r.Field(p[0].Key)
	if child.Kind() != value.Object {
		child = value.ObjectValue()
	}
	return r.With(p[0].Key, setPath(child, p[1:], v))
}
