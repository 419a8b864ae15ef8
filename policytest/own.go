package policytest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// runOwn runs a file in mlgov's own format:
//
//	kind: mlgov.policytest/v1
//	definition: path/to/definition.json   # relative to this file
//	aliases: [catalog files]               # optional; default: mlgov's own + --aliases
//	parameters: {name: value}              # assignment values for every case
//	cases:
//	  - name: ...
//	    resource: {...}                    # ARM JSON
//	    parameters: {...}                  # per-case overrides
//	    context: {resourceGroup, subscription, requestContext}
//	    related: [ARM resources]           # the world for AINE/DINE lookups
//	    want: {effect: Audit|none, details: {...}}   # details compared as a subset
//	    why: ...                           # the reason for want (a note)
//	Any other key is an error (checkOwnKeys).
func (r *Runner) runOwn(path string, doc map[string]any, sum *Summary) {
	dir := filepath.Dir(path)
	defPath, _ := doc["definition"].(string)
	if defPath == "" {
		sum.add(Outcome{File: path, Status: Fail, Detail: "no 'definition' given"})
		return
	}
	data, err := os.ReadFile(filepath.Join(dir, defPath))
	if err != nil {
		sum.add(Outcome{File: path, Status: Fail, Detail: err.Error()})
		return
	}
	d, err := definition.Parse(data)
	if err != nil {
		sum.add(Outcome{File: path, Status: Fail, Detail: defPath + ": " + err.Error()})
		return
	}
	if d.Kind == definition.KindPolicySet {
		sum.add(Outcome{File: path, Status: Fail, Detail: defPath + ": is an initiative; test its member definitions"})
		return
	}
	cats := []*alias.Catalog{alias.Builtin()}
	if r.Aliases != nil {
		cats = append(cats, r.Aliases)
	}
	if al, ok := doc["aliases"].([]any); ok {
		for _, a := range al {
			s, _ := a.(string)
			c, err := r.catalog(filepath.Join(dir, s))
			if err != nil {
				sum.add(Outcome{File: path, Status: Fail, Detail: "aliases: " + err.Error()})
				return
			}
			cats = append(cats, c)
		}
	}
	cat := alias.Merge(cats...)
	base := map[string]value.Value{}
	if pm, ok := doc["parameters"].(map[string]any); ok {
		for k, v := range pm {
			pv, err := toValue(v)
			if err != nil {
				sum.add(Outcome{File: path, Status: Fail, Detail: "parameters: " + err.Error()})
				return
			}
			base[k] = pv
		}
	}
	cases, _ := doc["cases"].([]any)
	if len(cases) == 0 {
		sum.add(Outcome{File: path, Status: Fail, Detail: "no cases"})
		return
	}
	for i, ci := range cases {
		m, _ := ci.(map[string]any)
		name := caseName(m, i)
		o := r.ownCase(d.Policy, cat, base, m)
		o.File, o.Case = path, name
		sum.add(o)
	}
}

func (r *Runner) ownCase(def *definition.Definition, cat *alias.Catalog, base map[string]value.Value, m map[string]any) Outcome {
	if m == nil {
		return Outcome{Status: Fail, Detail: "case is not a mapping"}
	}
	if s, ok := m["skip"].(string); ok && s != "" {
		return Outcome{Status: Skip, Detail: s}
	}
	params := map[string]value.Value{}
	for k, v := range base {
		params[k] = v
	}
	if pm, ok := m["parameters"].(map[string]any); ok {
		for k, v := range pm {
			pv, err := toValue(v)
			if err != nil {
				return Outcome{Status: Fail, Detail: "parameters: " + err.Error()}
			}
			params[k] = pv
		}
	}
	want, _ := m["want"].(map[string]any)
	wantEffect, _ := want["effect"].(string)
	wantErr, _ := want["error"].(string)
	prog, err := policy.Compile(def, policy.Options{Aliases: cat, Parameters: params, Strict: true})
	if err != nil {
		if wantErr != "" && strings.Contains(err.Error(), wantErr) {
			return Outcome{Status: Pass}
		}
		return Outcome{Status: Fail, Detail: "compile error: " + err.Error()}
	}
	res, err := toValue(m["resource"])
	if err != nil {
		return Outcome{Status: Fail, Detail: "resource: " + err.Error()}
	}
	in := &policy.Input{Resource: res, Explain: true}
	if c, ok := m["context"]; ok {
		cv, err := toValue(c)
		if err != nil {
			return Outcome{Status: Fail, Detail: "context: " + err.Error()}
		}
		in.ResourceGroup = cv.Field("resourceGroup")
		in.Subscription = cv.Field("subscription")
		in.RequestContext = cv.Field("requestContext")
		if now := cv.Field("now").Str(); now != "" {
			t, err := time.Parse(time.RFC3339Nano, now)
			if err != nil {
				return Outcome{Status: Fail, Detail: "context.now: " + err.Error()}
			}
			in.Now = t
		}
	}
	if rl, ok := m["related"].([]any); ok {
		var pool []value.Value
		for _, e := range rl {
			v, err := toValue(e)
			if err != nil {
				return Outcome{Status: Fail, Detail: "related: " + err.Error()}
			}
			pool = append(pool, v)
		}
		in.Lookup = PoolLookup(pool)
	}
	out := prog.Evaluate(in)
	if wantErr != "" {
		if out.Err != nil && strings.Contains(out.Err.Error(), wantErr) {
			return Outcome{Status: Pass}
		}
		return Outcome{Status: Fail, Detail: fmt.Sprintf("want error containing %q, got %v", wantErr, out.Err)}
	}
	if out.Err != nil {
		return Outcome{Status: Fail, Detail: "evaluation error: " + out.Err.Error() + explainResult(out)}
	}
	if strings.EqualFold(wantEffect, "none") || wantEffect == "" {
		if out.Effect != policy.None {
			return Outcome{Status: Fail, Detail: fmt.Sprintf("want no effect, got %s%s", out.EffectName, explainResult(out))}
		}
		return Outcome{Status: Pass}
	}
	details, hasDetails := want["details"]
	return judgeEffect(out, wantEffect, details, hasDetails, "want.details")
}

// PoolLookup answers existence checks from a set of resources, selecting
// them the way ARM would (RelatedQuery.Matches).
type PoolLookup []value.Value

// Related implements policy.Lookup.
func (p PoolLookup) Related(q *policy.RelatedQuery) ([]value.Value, error) {
	var out []value.Value
	for _, r := range p {
		if q.Matches(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// runEvaluatorDir runs an azure-policy-evaluator sample folder:
// azurepolicy.json and tests/<name>-<deny|audit|none|...>.json.
func (r *Runner) runEvaluatorDir(dir string, sum *Summary) {
	data, err := os.ReadFile(filepath.Join(dir, "azurepolicy.json"))
	if err != nil {
		sum.add(Outcome{File: dir, Status: Fail, Detail: err.Error()})
		return
	}
	d, err := definition.Parse(data)
	if err != nil {
		sum.add(Outcome{File: dir, Status: Fail, Detail: "azurepolicy.json: " + err.Error()})
		return
	}
	var cat *alias.Catalog
	if r.Aliases != nil {
		cat = alias.Merge(alias.Builtin(), r.Aliases)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "tests"))
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(strings.ToLower(e.Name()), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		base := strings.TrimSuffix(n, filepath.Ext(n))
		want := base[strings.LastIndexByte(base, '-')+1:]
		o := Outcome{File: filepath.Join(dir, "tests", n), Case: base}
		res, err := readJSONFile(filepath.Join(dir, "tests", n))
		if err != nil {
			o.Status, o.Detail = Fail, err.Error()
			sum.add(o)
			continue
		}
		prog, err := policy.Compile(d.Policy, policy.Options{Aliases: cat})
		if err != nil {
			o.Status, o.Detail = Fail, "compile error: "+err.Error()
			sum.add(o)
			continue
		}
		out := prog.Evaluate(&policy.Input{Resource: res, Explain: true})
		got := "none"
		if out.Effect != policy.None {
			got = strings.ToLower(out.Effect.String())
		}
		switch {
		case out.Err != nil:
			o.Status, o.Detail = Fail, "evaluation error: "+out.Err.Error()
		case got != strings.ToLower(want):
			o.Status, o.Detail = Fail, fmt.Sprintf("want %s, got %s%s", want, got, explainResult(out))
		default:
			o.Status = Pass
		}
		sum.add(o)
	}
}

// runFunctionCases runs a regorus template-function case file:
// builtin: azure.policy.fn.<snake_name>, cases: [{note, args, want |
// want_null | want_undefined}].
func (r *Runner) runFunctionCases(path string, doc map[string]any, sum *Summary) {
	b, _ := doc["builtin"].(string)
	fn := functionName(b)
	cases, _ := doc["cases"].([]any)
	for i, ci := range cases {
		m, _ := ci.(map[string]any)
		o := Outcome{File: path, Case: caseName(m, i)}
		if skip, _ := m["skip"].(bool); skip {
			o.Status, o.Detail = Skip, "marked skip: true in the case file"
			sum.add(o)
			continue
		}
		argv, _ := m["args"].([]any)
		args := make([]value.Value, len(argv))
		bad := false
		for j, a := range argv {
			v, err := toValue(a)
			if err != nil {
				o.Status, o.Detail, bad = Fail, "args: "+err.Error(), true
				break
			}
			args[j] = v
		}
		if bad {
			sum.add(o)
			continue
		}
		var got value.Value
		var err error
		switch fn {
		case "resolve_field":
			got, err = resolveField(args)
		case "get_parameter":
			got, err = getParameter(args)
		default:
			got, err = expr.CallFunction(fn, args, time.Now().UTC())
		}
		switch {
		case m["want_error"] != nil:
			want, _ := m["want_error"].(string)
			if err == nil || !strings.Contains(err.Error(), want) {
				o.Status, o.Detail = Fail, fmt.Sprintf("want an error containing %q, got %s (err %v)", want, got.JSON(), err)
			}
		case m["want_undefined"] == true:
			if err == nil && !got.IsUndefined() {
				o.Status, o.Detail = Fail, "want no value (error or undefined), got "+got.JSON()
			}
		case m["want_null"] == true:
			if err != nil || got.Kind() != value.Null {
				o.Status, o.Detail = Fail, fmt.Sprintf("want null, got %s (err %v)", got.JSON(), err)
			}
		default:
			w, werr := toValue(m["want"])
			switch {
			case werr != nil:
				o.Status, o.Detail = Fail, "want: "+werr.Error()
			case err != nil:
				o.Status, o.Detail = Fail, fmt.Sprintf("want %s, got error: %v", w.JSON(), err)
			case !value.Equal(w, got):
				o.Status, o.Detail = Fail, fmt.Sprintf("want %s, got %s", w.JSON(), got.JSON())
			}
		}
		sum.add(o)
	}
}

// functionName maps regorus builtin names to ARM function names:
// azure.policy.fn.add_days → addDays; special internal names map to their
// ARM equivalents.
func functionName(b string) string {
	n := b
	for _, p := range []string{"azure.policy.fn.", "azure.policy."} {
		if strings.HasPrefix(n, p) {
			n = n[len(p):]
			break
		}
	}
	switch n {
	case "int_mod":
		return "mod"
	case "int_div":
		return "div"
	case "get_parameter":
		return n
	case "logic_any":
		return "or"
	case "logic_all":
		return "and"
	case "resolve_field":
		return n
	}
	parts := strings.Split(n, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// getParameter(params, defaults, name) is regorus's parameters() helper:
// the supplied value, else the default.
func getParameter(args []value.Value) (value.Value, error) {
	if len(args) != 3 || args[2].Kind() != value.String {
		return value.Value{}, fmt.Errorf("get_parameter(params, defaults, name) needs a name string")
	}
	if v, ok := args[0].Get(args[2].Str()); ok {
		return v, nil
	}
	return args[1].Field(args[2].Str()), nil
}

// resolveField reads a raw JSON path from a resource (regorus's
// azure.policy.resolve_field helper).
func resolveField(args []value.Value) (value.Value, error) {
	if len(args) != 2 || args[1].Kind() != value.String {
		return value.Value{}, fmt.Errorf("resolve_field(resource, path) needs a path string")
	}
	p, err := value.ParsePath(args[1].Str())
	if err != nil {
		return value.Value{}, err
	}
	return args[0].At(p), nil
}
