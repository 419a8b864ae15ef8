package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// Options configure compilation.
type Options struct {
	// Aliases resolves alias names to paths. Nil means no catalog: field
	// names are JSON paths from the resource root ("raw path" mode, for
	// test files that declare no catalog).
	Aliases *alias.Catalog
	// Strict makes unknown aliases compile errors. Otherwise a condition
	// that reads an unknown alias makes the policy not applicable (as
	// Azure treats invalid aliases) and the alias is listed in Warnings.
	Strict bool
	// Parameters are the assignment's parameter values (plain JSON values,
	// not {"value": ...} wrappers), by name (case-insensitive).
	Parameters map[string]value.Value
	// AllowExtraParameters accepts parameter values the definition does
	// not declare (Azure rejects them).
	AllowExtraParameters bool
	// AllowMissingParameters lets parameters without a default and without
	// a value compile; parameters() of them has no value (Azure rejects
	// such an assignment; test harnesses use this).
	AllowMissingParameters bool
	// FoldAllowedValues compares string values with allowedValues
	// case-insensitively. Azure checks assignment values case-sensitively
	// but accepts built-in initiatives that pass "audit" to members whose
	// allowedValues say "Audit"; CompileSet uses this for members.
	FoldAllowedValues bool
	// Effect, when set, replaces the definition's then.effect (an
	// assignment's policyEffect override); it must name an effect.
	Effect string
	// MemberEffect, for CompileSet, replaces the effect of members by
	// reference id (the overrides that select members; keys compared
	// case-insensitively). Effect applies to the members it misses.
	MemberEffect func(referenceID string) string
}

// limits from Azure's documentation.
const (
	maxConditions     = 4096
	maxExistenceConds = 128
	maxDepth          = 128
)

// Program is a compiled policy definition bound to parameter values. It is
// immutable and safe for concurrent use.
type Program struct {
	Definition *definition.Definition
	mode       mode
	cond       cond
	effect     effectSpec
	details    *detailsSpec
	params     []value.Value
	paramNames []string
	// types lists the (lower-cased) resource types the program can apply
	// to; nil means any type.
	types []string
	// unknown lists unknown aliases in the condition (non-strict mode):
	// such a policy is not applicable.
	unknown       []string
	unknownReason string // Result.Reason when unknown is not empty
	warnings      []string
	// existence check
	exist *existenceSpec
	// usesScope: the definition calls resourceGroup() or subscription().
	usesScope bool
	// inspectsTags: the rule's condition reads the resource's tags.
	inspectsTags bool
}

// Effect returns the program's effect when it is known without
// evaluating (a constant, or a parameter the assignment gave); ok is
// false when it is computed per resource.
func (p *Program) Effect() (e Effect, ok bool) { return p.effect.eff, p.effect.isCon }

// UsesScopeContext reports whether the definition calls resourceGroup() or
// subscription(), that is whether Input.ResourceGroup and
// Input.Subscription matter to it.
func (p *Program) UsesScopeContext() bool { return p.usesScope }

// InspectsTags reports whether the rule's condition (not an existence
// condition) may read the resource's tags: a field naming them, or a
// field whose name is computed per resource. A PATCH that changes only
// tags is evaluated against these definitions only (policy-language.md
// §17).
func (p *Program) InspectsTags() bool { return p.inspectsTags }

// Warnings returns non-fatal findings (unknown aliases in non-strict mode).
func (p *Program) Warnings() []string { return p.warnings }

// Types returns the resource types the program is restricted to by its
// type conditions (lower-cased), or nil when it may apply to any type.
func (p *Program) Types() []string { return p.types }

// compiler holds compile state.
type compiler struct {
	opts   Options
	res    resolver
	def    *definition.Definition
	errs   definition.ErrorList
	params []value.Value
	pnames []string
	// missing: the parameters compiled without a value
	// (AllowMissingParameters), which parameters() leaves to evaluation
	// so that nothing is worked out at compile time from a value the
	// assignment will give (a field named after a parameter).
	missing map[string]bool
	// count scopes: innermost last
	scopes   []countScope
	nconds   int
	unknown  map[string]bool
	inModify bool // compiling a modify operation condition (no field())
	inExist  bool // compiling an existence condition
	warnings []string
	// usesScope: the definition calls resourceGroup() or subscription().
	usesScope bool
	// refused: the parameters whose given value was refused (an error
	// reported), lower-cased: what is worked out from them is not
	// reported again.
	refused map[string]bool
	// inspectsTags: see Program.InspectsTags.
	inspectsTags bool
}

// Warn implements expr.Warner.
func (c *compiler) Warn(offset int, msg string) { c.warnings = append(c.warnings, msg) }

type countScope struct {
	name  string     // value count name ("" for field counts)
	path  value.Path // field count: the counted path (ending in [*]), absolute
	alias string     // field count: the counted field text
	field bool
}

// Compile compiles a policy definition with the given options. All problems
// are returned together as a definition.ErrorList.
func Compile(def *definition.Definition, opts Options) (*Program, error) {
	c := &compiler{opts: opts, def: def, unknown: map[string]bool{}}
	c.res = resolver{aliases: opts.Aliases, raw: opts.Aliases == nil, strict: opts.Strict}
	c.bindParams()
	p := &Program{Definition: def, params: c.params, paramNames: c.pnames}
	p.mode = parseMode(def.Mode, def.RulePointer, &c.errs)
	p.mode.catalog = opts.Aliases
	rule := def.Rule
	rp := def.RulePointer
	if rule.Kind() != value.Object {
		c.errs.Add(rp.String(), definition.CodeInvalidType, "policyRule must be an object")
		return nil, c.errs
	}
	ifv, okIf := rule.Get("if")
	thenv, okThen := rule.Get("then")
	if !okIf {
		c.errs.Add(rp.Key("if").String(), definition.CodeMissingProperty, "policyRule has no 'if' condition")
	}
	if !okThen {
		c.errs.Add(rp.Key("then").String(), definition.CodeMissingProperty, "policyRule has no 'then' block")
	}
	for i := 0; i < rule.Len(); i++ {
		k, _ := rule.MemberAt(i)
		if !value.EqualFold(k, "if") && !value.EqualFold(k, "then") {
			c.errs.Add(rp.Key(k).String(), definition.CodeUnknownProperty, "unexpected property %q in policyRule (only 'if' and 'then' are allowed)", k)
		}
	}
	if okIf {
		p.cond = c.cond(ifv, rp.Key("if"), 0)
		if c.nconds > maxConditions {
			c.errs.Add(rp.Key("if").String(), definition.CodeLimitExceeded, "the 'if' condition has %d condition expressions; the limit is %d", c.nconds, maxConditions)
		}
	}
	if okThen {
		c.then(p, thenv, rp.Key("then"))
	}
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	for a := range c.unknown {
		p.unknown = append(p.unknown, a)
	}
	sort.Strings(p.unknown)
	if len(p.unknown) > 0 {
		p.unknownReason = "unknown alias " + p.unknown[0]
	}
	p.warnings = append(p.warnings, c.warnings...)
	p.usesScope = c.usesScope
	p.inspectsTags = c.inspectsTags
	for _, a := range p.unknown {
		p.warnings = append(p.warnings, fmt.Sprintf("unknown alias %q: the policy is not applicable to any resource until a catalog that defines it is loaded", a))
	}
	if p.cond != nil {
		var guard *leafCond
		p.types, guard = typeIndex(p.cond)
		if guard != nil && constASCII(guard.operand) {
			// Evaluate checks the type against p.types before the
			// condition runs, so this leaf is known to be true then.
			guard.typeGuard = true
		}
	}
	return p, nil
}

// bindParams resolves parameter values: assignment value, else default.
func (c *compiler) bindParams() {
	given := map[string]value.Value{}
	used := map[string]bool{}
	for k, v := range c.opts.Parameters {
		given[strings.ToLower(k)] = v
	}
	if len(c.def.Parameters) == 0 && c.def.ParamsPointer == "" {
		// A bare rule: parameters are whatever the caller supplies.
		keys := make([]string, 0, len(c.opts.Parameters))
		for k := range c.opts.Parameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c.pnames = append(c.pnames, k)
			c.params = append(c.params, c.opts.Parameters[k])
		}
		return
	}
	for _, pd := range c.def.Parameters {
		if pd.DefaultMismatch != "" {
			c.warnings = append(c.warnings, pd.DefaultMismatch)
		}
		c.pnames = append(c.pnames, pd.Name)
		v, ok := given[strings.ToLower(pd.Name)]
		used[strings.ToLower(pd.Name)] = true
		if !ok {
			if pd.HasDefault {
				v = pd.Default
			} else if c.opts.AllowMissingParameters {
				v = value.Value{}
				if c.missing == nil {
					c.missing = map[string]bool{}
				}
				c.missing[strings.ToLower(pd.Name)] = true
			} else {
				c.errs.Add(pd.Pointer.String(), definition.CodeMissingParameter, "parameter %q has no default value and no value was given", pd.Name)
				c.params = append(c.params, value.Value{})
				continue
			}
		} else {
			if pd.Type != 0 && v.Kind() != value.Null && !pd.Type.Accepts(v) {
				c.refuse(pd.Name)
				c.errs.Add(pd.Pointer.String(), definition.CodeParameterValue, "the value %s given for parameter %q is %s, but the parameter's type is %s", short(v), pd.Name, strings.ToLower(v.Kind().String()), pd.TypeName)
			} else if vs := schemaViolations(pd, v); len(vs) > 0 {
				c.refuse(pd.Name)
				c.errs.Add(pd.Pointer.String(), definition.CodeParameterValue, "the value given for parameter %q does not match the parameter's schema: %s", pd.Name, definition.Violations(vs))
			} else if len(pd.AllowedValues) > 0 && !allowed(pd, v, c.opts.FoldAllowedValues) {
				c.refuse(pd.Name)
				var av []string
				for _, a := range pd.AllowedValues {
					av = append(av, a.String())
				}
				c.errs.Add(pd.Pointer.String(), definition.CodeParameterNotAllowed, "the value %s is not allowed for parameter %q; the allowed values are '%s'", short(v), pd.Name, strings.Join(av, ", "))
			}
		}
		c.params = append(c.params, v)
	}
	if !c.opts.AllowExtraParameters {
		keys := make([]string, 0, len(given))
		for k := range given {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !used[k] {
				c.errs.Add(c.def.ParamsPointer.String(), definition.CodeUnknownParameter, "a value was given for parameter %q, which the definition does not declare", k)
			}
		}
	}
}

// schemaViolations checks an object value against the parameter's schema.
func schemaViolations(pd *definition.Parameter, v value.Value) []definition.Violation {
	if pd.Check == nil || v.Kind() != value.Object {
		return nil
	}
	return pd.Check.Validate(v)
}

// allowed checks a value against allowedValues: strings case-sensitively
// (as Azure does at assignment time), arrays element-wise.
func allowed(pd *definition.Parameter, v value.Value, fold bool) bool {
	eq := value.Equal
	if fold {
		eq = func(a, b value.Value) bool {
			if a.Kind() == value.String && b.Kind() == value.String {
				return value.EqualFold(a.Str(), b.Str())
			}
			return value.Equal(a, b)
		}
	}
	if pd.Type == definition.TypeArray && v.Kind() == value.Array {
		for _, e := range v.Elems() {
			ok := false
			for _, a := range pd.AllowedValues {
				if eq(a, e) || eq(a, v) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
	for _, a := range pd.AllowedValues {
		if eq(a, v) {
			return true
		}
	}
	return false
}

func short(v value.Value) string {
	s := v.JSON()
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

// ---- conditions

func (c *compiler) cond(v value.Value, ptr definition.Pointer, depth int) cond {
	if depth > maxDepth {
		c.errs.Add(ptr.String(), definition.CodeLimitExceeded, "conditions nested deeper than %d levels", maxDepth)
		return nil
	}
	if v.Kind() != value.Object {
		c.errs.Add(ptr.String(), definition.CodeInvalidCondition, "a condition must be an object, got %s", strings.ToLower(v.Kind().String()))
		return nil
	}
	c.nconds++
	if c.nconds > maxConditions+1 {
		return nil
	}
	// logical operators
	for _, lk := range []string{"allOf", "anyOf", "not"} {
		lv, ok := v.Get(lk)
		if !ok {
			continue
		}
		if v.Len() != 1 {
			c.errs.Add(ptr.String(), definition.CodeInvalidCondition, "'%s' must be the only property of its condition object", lk)
			return nil
		}
		k, _ := v.MemberAt(0)
		lp := ptr.Key(k)
		if lk == "not" {
			inner := c.cond(lv, lp, depth+1)
			if inner == nil {
				return nil
			}
			return &notCond{inner}
		}
		if lv.Kind() != value.Array {
			c.errs.Add(lp.String(), definition.CodeInvalidCondition, "'%s' must be an array of conditions, got %s", lk, strings.ToLower(lv.Kind().String()))
			return nil
		}
		if lv.Len() == 0 {
			// The JSON schema says minItems 1; regorus (and mlgov) accept an
			// empty list: allOf [] is true, anyOf [] is false.
			c.Warn(0, fmt.Sprintf("%s: '%s' is empty (Azure's schema requires at least one condition)", lp, lk))
		}
		kids := make([]cond, 0, lv.Len())
		for i, e := range lv.Elems() {
			if k := c.cond(e, lp.Index(i), depth+1); k != nil {
				kids = append(kids, k)
			}
		}
		if len(kids) != lv.Len() {
			return nil
		}
		if lk == "allOf" {
			return &allOf{kids}
		}
		return &anyOf{kids}
	}
	return c.leaf(v, ptr, depth)
}

func (c *compiler) leaf(v value.Value, ptr definition.Pointer, depth int) cond {
	var subjKey, opKey string
	var subjVal, opVal value.Value
	nOps := 0
	ok := true
	for i := 0; i < v.Len(); i++ {
		k, e := v.MemberAt(i)
		switch {
		case value.EqualFold(k, "field") || value.EqualFold(k, "value") || value.EqualFold(k, "count"):
			if subjKey != "" {
				c.errs.Add(ptr.Key(k).String(), definition.CodeInvalidCondition, "a condition has both '%s' and '%s'; use exactly one of field, value or count", subjKey, k)
				ok = false
			}
			subjKey, subjVal = k, e
		case value.EqualFold(k, "source"):
			c.errs.Add(ptr.Key(k).String(), definition.CodeInvalidCondition, "'source' conditions are no longer supported by Azure Policy")
			ok = false
		default:
			if _, known := lookupOp(k); !known {
				c.errs.Add(ptr.Key(k).String(), definition.CodeUnknownOperator, "unknown operator %q (expected one of equals, notEquals, like, notLike, match, notMatch, matchInsensitively, notMatchInsensitively, contains, notContains, in, notIn, containsKey, notContainsKey, less, lessOrEquals, greater, greaterOrEquals, exists, or a logical operator allOf, anyOf, not)", k)
				ok = false
				continue
			}
			nOps++
			opKey, opVal = k, e
		}
	}
	if !ok {
		return nil
	}
	if subjKey == "" {
		c.errs.Add(ptr.String(), definition.CodeInvalidCondition, "a condition needs one of field, value or count (or allOf, anyOf, not)")
		return nil
	}
	if nOps == 0 {
		c.errs.Add(ptr.String(), definition.CodeInvalidCondition, "the condition on '%s' has no operator", subjKey)
		return nil
	}
	if nOps > 1 {
		c.errs.Add(ptr.String(), definition.CodeInvalidCondition, "a condition must have exactly one operator, found %d", nOps)
		return nil
	}
	kind, _ := lookupOp(opKey)
	l := &leafCond{ptr: string(ptr)}
	base, neg := kind.base()
	l.op = &operator{kind: kind, base: base, negate: neg}
	l.opName = opNames[kind]
	// operand
	opPtr := ptr.Key(opKey)
	operand := c.template(opVal, opPtr)
	if operand == nil {
		return nil
	}
	l.operand = operand
	if cv, isConst := expr.IsConst(operand); isConst {
		if !c.checkOperand(kind, cv, opPtr) {
			return nil
		}
		switch base {
		case opLike, opMatch, opMatchInsensitively:
			if s, ok := scalarString(cv); ok {
				l.op.pattern = compilePattern(base, s)
			}
		}
	}
	sp := ptr.Key(subjKey)
	switch strings.ToLower(subjKey) {
	case "field":
		s := c.fieldSubject(subjVal, sp)
		if s == nil {
			return nil
		}
		l.subj = s
	case "value":
		e := c.template(subjVal, sp)
		if e == nil {
			return nil
		}
		l.subj = &valueSubject{e: e, text: exprText(subjVal)}
	case "count":
		s := c.countSubject(subjVal, sp, depth)
		if s == nil {
			return nil
		}
		l.subj = s
		if kind == opExists || base == opLike || base == opMatch || base == opMatchInsensitively || base == opContainsKey {
			c.errs.Add(opPtr.String(), definition.CodeInvalidCount, "operator '%s' cannot be applied to a count (use equals, notEquals, in, notIn, less, lessOrEquals, greater, greaterOrEquals)", opKey)
			return nil
		}
	}
	return l
}

// checkOperand validates constant operands.
func (c *compiler) checkOperand(kind opKind, v value.Value, ptr definition.Pointer) bool {
	if v.IsUndefined() {
		return true // a parameter without a value: decided at evaluation
	}
	switch kind {
	case opIn, opNotIn:
		if v.Kind() != value.Array {
			c.errs.Add(ptr.String(), definition.CodeInvalidOperand, "the operand of '%s' must be an array, got %s", opNames[kind], strings.ToLower(v.Kind().String()))
			return false
		}
	case opExists:
		if _, err := existsOperand(v); err != nil {
			c.errs.Add(ptr.String(), definition.CodeInvalidOperand, "the operand of 'exists' must be true or false, got %s", short(v))
			return false
		}
	case opLike, opNotLike, opMatch, opNotMatch, opMatchInsensitively, opNotMatchInsensitively, opContainsKey, opNotContainsKey:
		if _, ok := scalarString(v); !ok {
			c.errs.Add(ptr.String(), definition.CodeInvalidOperand, "the operand of '%s' must be a string, got %s", opNames[kind], strings.ToLower(v.Kind().String()))
			return false
		}
	case opEquals, opNotEquals, opLess, opLessOrEquals, opGreater, opGreaterOrEquals:
	}
	return true
}

func exprText(v value.Value) string {
	if v.Kind() == value.String {
		return v.Str()
	}
	return v.JSON()
}

// template compiles a JSON value whose string leaves may be template
// expressions.
func (c *compiler) template(v value.Value, ptr definition.Pointer) expr.Evaluable {
	e, ok := c.templateRec(v, ptr, 0)
	if !ok {
		return nil
	}
	return e
}

func (c *compiler) templateRec(v value.Value, ptr definition.Pointer, depth int) (expr.Evaluable, bool) {
	if depth > maxDepth {
		c.errs.Add(ptr.String(), definition.CodeLimitExceeded, "value nested deeper than %d levels", maxDepth)
		return nil, false
	}
	switch v.Kind() {
	case value.String:
		s := v.Str()
		if expr.IsExpression(s) {
			return c.expression(s, ptr)
		}
		if strings.HasPrefix(s, "[[") {
			return expr.Const{V: value.StringValue(expr.Literal(s))}, true
		}
		return expr.Const{V: v}, true
	case value.Array:
		elems := make([]expr.Evaluable, v.Len())
		allConst := true
		for i, e := range v.Elems() {
			ce, ok := c.templateRec(e, ptr.Index(i), depth+1)
			if !ok {
				return nil, false
			}
			elems[i] = ce
			if _, isC := expr.IsConst(ce); !isC {
				allConst = false
			}
		}
		if allConst {
			out := make([]value.Value, len(elems))
			changed := false
			for i, e := range elems {
				out[i], _ = expr.IsConst(e)
				if !value.Equal(out[i], v.Index(i)) || out[i].Kind() != v.Index(i).Kind() {
					changed = true
				}
			}
			if !changed {
				return expr.Const{V: v}, true
			}
			return expr.Const{V: value.ArrayValue(out)}, true
		}
		return newArrayTmpl(elems), true
	case value.Object:
		n := v.Len()
		keys := make([]string, n)
		vals := make([]expr.Evaluable, n)
		allConst := true
		for i := 0; i < n; i++ {
			k, e := v.MemberAt(i)
			ce, ok := c.templateRec(e, ptr.Key(k), depth+1)
			if !ok {
				return nil, false
			}
			keys[i], vals[i] = k, ce
			if _, isC := expr.IsConst(ce); !isC {
				allConst = false
			}
		}
		if allConst {
			r, _ := (&objectTmpl{keys: keys, vals: vals}).Eval(nil)
			return expr.Const{V: r}, true
		}
		return newObjectTmpl(keys, vals), true
	}
	return expr.Const{V: v}, true
}

type arrayTmpl struct {
	elems []expr.Evaluable
	// constUndef: a constant element is, or holds, an undefined value
	// (a parameter without a value).
	constUndef bool
}

func newArrayTmpl(elems []expr.Evaluable) *arrayTmpl {
	return &arrayTmpl{elems: elems, constUndef: constsUndefined(elems)}
}

func (t *arrayTmpl) Eval(a *expr.Activation) (value.Value, error) {
	out := make([]value.Value, len(t.elems))
	for i, e := range t.elems {
		v, err := e.Eval(a)
		if err != nil {
			return value.Value{}, err
		}
		out[i] = v
	}
	return value.ArrayValue(out), nil
}

type objectTmpl struct {
	keys       []string
	vals       []expr.Evaluable
	constUndef bool // as in arrayTmpl
}

func newObjectTmpl(keys []string, vals []expr.Evaluable) *objectTmpl {
	return &objectTmpl{keys: keys, vals: vals, constUndef: constsUndefined(vals)}
}

func (t *objectTmpl) Eval(a *expr.Activation) (value.Value, error) {
	b := value.NewObjectBuilder(len(t.keys))
	for i, e := range t.vals {
		v, err := e.Eval(a)
		if err != nil {
			return value.Value{}, err
		}
		b.Add(t.keys[i], v)
	}
	return b.Object(), nil
}

// constsUndefined reports whether a constant among es is, or holds, an
// undefined value.
func constsUndefined(es []expr.Evaluable) bool {
	for _, e := range es {
		if v, ok := expr.IsConst(e); ok && (v.IsUndefined() || hasUndefined(v)) {
			return true
		}
	}
	return false
}

// checkTemplate evaluates template e only as far as needed to report what
// building its value would: the first evaluation error, else whether the
// value is, or holds, an undefined value. Constant parts are not visited.
func checkTemplate(e expr.Evaluable, a *expr.Activation) (undef bool, err error) {
	switch t := e.(type) {
	case expr.Const:
		return t.V.IsUndefined() || hasUndefined(t.V), nil
	case *objectTmpl:
		return checkTemplates(t.vals, t.constUndef, a)
	case *arrayTmpl:
		return checkTemplates(t.elems, t.constUndef, a)
	case *deployParam:
		// Its Eval never fails and reports undefined values as errors.
		return false, nil
	}
	v, err := e.Eval(a)
	if err != nil {
		return false, err
	}
	return v.IsUndefined() || hasUndefined(v), nil
}

func checkTemplates(es []expr.Evaluable, constUndef bool, a *expr.Activation) (bool, error) {
	undef := constUndef
	for _, e := range es {
		if _, ok := e.(expr.Const); ok {
			continue // counted in constUndef
		}
		u, err := checkTemplate(e, a)
		if err != nil {
			return false, err
		}
		undef = undef || u
	}
	return undef, nil
}

// expression parses and compiles one "[...]" string.
func (c *compiler) expression(s string, ptr definition.Pointer) (expr.Evaluable, bool) {
	n, err := expr.ParseString(s)
	if err != nil {
		c.errs.Add(ptr.String(), definition.CodeInvalidExpression, "%s in %q", err.Error(), s)
		return nil, false
	}
	e, err := expr.Compile(n, c)
	if err != nil {
		code := definition.CodeInvalidExpression
		msg := err.Error()
		if fe, ok := err.(*fieldError); ok {
			code = fe.code
		} else if ce, ok := err.(*expr.CompileError); ok {
			if strings.Contains(ce.Msg, "unknown template function") {
				code = definition.CodeUnknownFunction
			}
			if strings.Contains(ce.Msg, "parameter") && strings.Contains(ce.Msg, "not declared") {
				code = definition.CodeUnknownParameter
			}
		}
		c.errs.Add(ptr.String(), code, "%s in %q", msg, s)
		return nil, false
	}
	return e, true
}

// Bind implements expr.Binder: the policy functions.
func (c *compiler) Bind(call *expr.Call, args []expr.Evaluable) (expr.Evaluable, bool, error) {
	name := strings.ToLower(call.Name)
	switch name {
	case "parameters":
		if len(args) != 1 {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("parameters() expects 1 argument, got %d", len(args))}
		}
		if cv, ok := expr.IsConst(args[0]); ok && cv.Kind() == value.String {
			for i, n := range c.pnames {
				if value.EqualFold(n, cv.Str()) {
					if c.missing[strings.ToLower(n)] {
						return &paramNode{names: c.pnames, vals: c.params, arg: args[0]}, true, nil
					}
					return expr.Const{V: c.params[i]}, true, nil
				}
			}
			if c.def.ParamsPointer == "" {
				// A bare rule declares no parameters: an unknown one has
				// no value.
				return expr.Const{}, true, nil
			}
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("parameter '%s' is not declared in the definition", cv.Str())}
		}
		return &paramNode{names: c.pnames, vals: c.params, arg: args[0]}, true, nil
	case "field":
		if len(args) != 1 {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("field() expects 1 argument, got %d", len(args))}
		}
		if c.inModify {
			c.Warn(call.At, "field() is not allowed in a modify operation's condition by Azure Policy; mlgov evaluates it against the resource")
		}
		if cv, ok := expr.IsConst(args[0]); ok && cv.Kind() == value.String {
			f, err := c.res.resolve(cv.Str())
			if err != nil {
				return nil, false, err
			}
			if f.kind == fkUnknown {
				c.unknown[cv.Str()] = true
			}
			c.noteTags(cv.Str())
			c.placeInScope(f, !c.inExist)
			return &fieldFunc{f: f}, true, nil
		}
		c.noteTags("")
		return &dynFieldFunc{res: &c.res, arg: args[0]}, true, nil
	case "current":
		if len(args) > 1 {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("current() expects 0 or 1 arguments, got %d", len(args))}
		}
		if len(c.scopes) == 0 {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: "current() can only be used inside a count expression's 'where' condition"}
		}
		if len(args) == 0 {
			return &currentNode{frame: len(c.scopes) - 1}, true, nil
		}
		cv, ok := expr.IsConst(args[0])
		if !ok || cv.Kind() != value.String {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: "current() takes a constant string: a count name or the counted alias"}
		}
		return c.bindCurrent(call, cv.Str())
	case "equals", "greater", "greaterorequals", "less", "lessorequals", "contains":
		// In policy rules these comparison functions behave like the
		// condition operators: case-insensitive, with the same coercions.
		if len(args) != 2 {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("template function '%s' expects 2 arguments, got %d", call.Name, len(args))}
		}
		k, _ := lookupOp(name)
		base, neg := k.base()
		e := &opFunc{name: call.Name, op: &operator{kind: k, base: base, negate: neg}, args: args}
		return foldOp(e, args), true, nil
	case "not":
		if len(args) != 1 {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("template function 'not' expects 1 argument, got %d", len(args))}
		}
		return foldOp(&notFunc{arg: args[0]}, args), true, nil
	case "requestcontext", "resourcegroup", "subscription", "policy":
		if len(args) != 0 {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("%s() takes no arguments", call.Name)}
		}
		if c.inModify && (name == "resourcegroup" || name == "subscription") {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("%s() cannot be used in a modify operation's condition", call.Name)}
		}
		if name == "resourcegroup" || name == "subscription" {
			c.usesScope = true
		}
		return &ctxNode{which: name}, true, nil
	}
	return nil, false, nil
}

func (c *compiler) bindCurrent(call *expr.Call, name string) (expr.Evaluable, bool, error) {
	for i := len(c.scopes) - 1; i >= 0; i-- {
		s := c.scopes[i]
		if !s.field {
			if value.EqualFold(s.name, name) {
				return &currentNode{frame: i}, true, nil
			}
			continue
		}
	}
	// An alias: the counted one or a child of it.
	f, err := c.res.resolve(name)
	if err != nil {
		return nil, false, err
	}
	if f.kind == fkPath {
		for i := len(c.scopes) - 1; i >= 0; i-- {
			s := c.scopes[i]
			if s.field && len(s.path) > 0 && hasPrefix(f.path, s.path) {
				return &currentNode{frame: i, rel: f.path[len(s.path):]}, true, nil
			}
		}
	}
	// By name: the counted alias itself or a child alias of it (also when
	// the catalog does not know the aliases).
	for i := len(c.scopes) - 1; i >= 0; i-- {
		s := c.scopes[i]
		if !s.field || len(name) < len(s.alias) || !value.EqualFold(name[:len(s.alias)], s.alias) {
			continue
		}
		rest := strings.TrimPrefix(name[len(s.alias):], ".")
		if rest == "" {
			return &currentNode{frame: i}, true, nil
		}
		if name[len(s.alias)] != '.' && name[len(s.alias)] != '[' {
			continue
		}
		rel, err := value.ParsePath(rest)
		if err != nil {
			return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("current('%s'): %v", name, err)}
		}
		return &currentNode{frame: i, rel: rel}, true, nil
	}
	return nil, false, &expr.CompileError{Offset: call.At, Msg: fmt.Sprintf("current('%s'): no enclosing count is named '%s' or counts that alias", name, name)}
}

// placeInScope makes a field relative to the innermost field count whose
// counted path is a prefix of the field's path.
func (c *compiler) placeInScope(f *fieldRef, allow bool) {
	if f.kind != fkPath || !allow {
		return
	}
	for i := len(c.scopes) - 1; i >= 0; i-- {
		s := c.scopes[i]
		if s.field && hasPrefix(f.path, s.path) {
			f.frame = i
			rel := f.path[len(s.path):]
			f.member = len(rel) == 0
			f.path = rel
			f.versioned = nil
			return
		}
	}
}

func (c *compiler) fieldSubject(v value.Value, ptr definition.Pointer) subject {
	if v.Kind() != value.String {
		c.errs.Add(ptr.String(), definition.CodeInvalidField, "field must be a string, got %s", strings.ToLower(v.Kind().String()))
		return nil
	}
	s := v.Str()
	if expr.IsExpression(s) {
		e, ok := c.expression(s, ptr)
		if !ok {
			return nil
		}
		if cv, isConst := expr.IsConst(e); isConst && cv.Kind() == value.String {
			return c.staticField(cv.Str(), s, ptr)
		}
		c.noteTags("")
		return &dynFieldSubject{res: &c.res, e: e, text: s}
	}
	return c.staticField(s, s, ptr)
}

// refuse records that the value given for parameter name was refused.
func (c *compiler) refuse(name string) {
	if c.refused == nil {
		c.refused = map[string]bool{}
	}
	c.refused[strings.ToLower(name)] = true
}

// fromRefused reports whether the expression text reads a parameter
// whose value was refused.
func (c *compiler) fromRefused(text string) bool {
	lower := strings.ToLower(text)
	for name := range c.refused {
		if strings.Contains(lower, "parameters('"+name+"')") {
			return true
		}
	}
	return false
}

// noteTags records that the rule's condition reads the field name ("":
// a name computed per resource, which may be tags).
func (c *compiler) noteTags(name string) {
	if c.inExist {
		return
	}
	if _, tags := tagField(name); tags || name == "" {
		c.inspectsTags = true
	}
}

func (c *compiler) staticField(name, text string, ptr definition.Pointer) subject {
	f, err := c.res.resolve(name)
	if err != nil {
		code := definition.CodeInvalidField
		if fe, ok := err.(*fieldError); ok {
			code = fe.code
		}
		c.errs.Add(ptr.String(), code, "%s", err.Error())
		return nil
	}
	if f.kind == fkUnknown {
		c.unknown[name] = true
	}
	c.noteTags(name)
	f.text = text
	c.placeInScope(f, true)
	return &fieldSubject{f: f}
}

func (c *compiler) countSubject(v value.Value, ptr definition.Pointer, depth int) subject {
	if v.Kind() != value.Object {
		c.errs.Add(ptr.String(), definition.CodeInvalidCount, "count must be an object with 'field' or 'value', got %s", strings.ToLower(v.Kind().String()))
		return nil
	}
	var fieldV, valueV, nameV, whereV value.Value
	var hasField, hasValue, hasName, hasWhere bool
	for i := 0; i < v.Len(); i++ {
		k, e := v.MemberAt(i)
		switch strings.ToLower(k) {
		case "field":
			fieldV, hasField = e, true
		case "value":
			valueV, hasValue = e, true
		case "name":
			nameV, hasName = e, true
		case "where":
			whereV, hasWhere = e, true
		default:
			c.errs.Add(ptr.Key(k).String(), definition.CodeInvalidCount, "unexpected property %q in count (allowed: field, value, name, where)", k)
			return nil
		}
	}
	if hasField == hasValue {
		c.errs.Add(ptr.String(), definition.CodeInvalidCount, "count needs exactly one of 'field' or 'value'")
		return nil
	}
	cs := &countSubject{}
	if hasField {
		if hasName {
			c.errs.Add(ptr.Key("name").String(), definition.CodeInvalidCount, "'name' is only allowed in value counts")
			return nil
		}
		if fieldV.Kind() != value.String {
			c.errs.Add(ptr.Key("field").String(), definition.CodeInvalidCount, "count.field must be a string")
			return nil
		}
		fs := c.fieldSubject(fieldV, ptr.Key("field"))
		if fs == nil {
			return nil
		}
		st, ok := fs.(*fieldSubject)
		if !ok {
			c.errs.Add(ptr.Key("field").String(), definition.CodeInvalidCount, "count.field must name an array alias (an expression that is not constant is not supported here)")
			return nil
		}
		f := st.f
		if (f.kind != fkPath && f.kind != fkUnknown) || (f.kind == fkPath && !f.path.HasWildcard() && !(f.frame >= 0 && f.member)) {
			c.errs.Add(ptr.Key("field").String(), definition.CodeInvalidCount, "count.field %q must be an array alias (containing [*])", fieldV.Str())
			return nil
		}
		cs.field = f
		cs.text = fieldV.Str()
		var abs value.Path
		if f.kind == fkPath {
			abs = f.path
			if f.frame >= 0 {
				abs = append(append(value.Path(nil), c.scopes[f.frame].path...), f.path...)
			}
		}
		c.scopes = append(c.scopes, countScope{path: abs, alias: fieldV.Str(), field: true})
	} else {
		e := c.template(valueV, ptr.Key("value"))
		if e == nil {
			return nil
		}
		cs.value = e
		cs.text = exprText(valueV)
		name := ""
		if hasName {
			if nameV.Kind() != value.String || !validCountName(nameV.Str()) {
				c.errs.Add(ptr.Key("name").String(), definition.CodeInvalidCount, "count.name must be a string of letters and digits, got %s", short(nameV))
				return nil
			}
			name = nameV.Str()
		} else if len(c.scopes) > 0 {
			// Unnamed nested value counts can only use current() without
			// an argument when they are not nested; keep "default".
			name = "default"
		}
		c.scopes = append(c.scopes, countScope{name: name})
	}
	if hasWhere {
		cs.where = c.cond(whereV, ptr.Key("where"), depth+1)
		if cs.where == nil {
			c.scopes = c.scopes[:len(c.scopes)-1]
			return nil
		}
	}
	cs.frame = len(c.scopes) - 1
	c.scopes = c.scopes[:len(c.scopes)-1]
	return cs
}

func validCountName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// typeIndex extracts the resource types a condition restricts to: a
// top-level "type equals X" / "type in [...]" (directly or in a top-level
// allOf), and that condition. nil when unrestricted.
func typeIndex(c cond) ([]string, *leafCond) {
	switch c := c.(type) {
	case *leafCond:
		if t := leafTypes(c); t != nil {
			return t, c
		}
	case *allOf:
		for _, k := range c.kids {
			if l, ok := k.(*leafCond); ok {
				if t := leafTypes(l); t != nil {
					return t, l
				}
			}
		}
	}
	return nil, nil
}

// constASCII reports whether e is a constant string, or array of
// strings, of ASCII text only.
func constASCII(e expr.Evaluable) bool {
	v, ok := expr.IsConst(e)
	if !ok {
		return false
	}
	if v.Kind() == value.String {
		return isASCII(v.Str())
	}
	for _, x := range v.Elems() {
		if x.Kind() != value.String || !isASCII(x.Str()) {
			return false
		}
	}
	return v.Kind() == value.Array
}

func leafTypes(l *leafCond) []string {
	fs, ok := l.subj.(*fieldSubject)
	if !ok || fs.f.kind != fkType || fs.f.frame >= 0 {
		return nil
	}
	v, ok := expr.IsConst(l.operand)
	if !ok {
		return nil
	}
	switch l.op.kind {
	case opEquals:
		if v.Kind() == value.String {
			return []string{strings.ToLower(v.Str())}
		}
	case opIn:
		var out []string
		for _, e := range v.Elems() {
			if e.Kind() != value.String {
				return nil
			}
			out = append(out, strings.ToLower(e.Str()))
		}
		if out == nil {
			out = []string{}
		}
		return out
	}
	return nil
}
