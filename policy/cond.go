package policy

import (
	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// state is the per-evaluation state of one program run.
type state struct {
	a           expr.Activation
	explain     bool
	skipDetails bool
	trace       []ExpressionResult
	// tree is the if-condition as evaluated (explain): its root, and the
	// groups being evaluated.
	tree *ConditionNode
	open []*ConditionNode
	// existTrees are the existence condition's trees, one per related
	// resource evaluated (explain).
	existTrees []*ConditionNode
	lookup     Lookup
	// typ is the "type" of a.Target when typOK (alias paths depend on it).
	typ   string
	typOK bool
	// typIsString: the resource's type is a string.
	typIsString bool
	// typeChecked: the resource's type is a string that Evaluate found
	// among the program's types (so type guards hold).
	typeChecked bool
	// exist is the existence check's scratch record when it is not
	// reported (Input.SkipDetails).
	exist Existence
}

// setTarget makes t the resource field conditions read.
func (s *state) setTarget(t value.Value) {
	s.a.Target = t
	s.typ, s.typOK = "", false
}

// pathOf returns the path to read field f from root, which is the target
// unless f is relative to a count frame.
func (s *state) pathOf(f *fieldRef, root value.Value) value.Path {
	if f.alias == nil {
		return f.path
	}
	typ := ""
	if f.frame < 0 && f.cat != nil {
		if !s.typOK {
			s.typ, s.typOK = s.a.Target.Field("type").Str(), true
		}
		typ = s.typ
	}
	return f.aliasPath(s.a.APIVersion, root, typ)
}

// cond is a compiled condition.
type cond interface {
	eval(s *state) (bool, error)
}

type allOf struct{ kids []cond }

func (c *allOf) eval(s *state) (bool, error) {
	if s.explain {
		return s.group("allOf", func() (bool, error) { return c.kids2(s) })
	}
	return c.kids2(s)
}

func (c *allOf) kids2(s *state) (bool, error) {
	for _, k := range c.kids {
		r, err := k.eval(s)
		if err != nil || !r {
			return false, err
		}
	}
	return true, nil
}

type anyOf struct{ kids []cond }

func (c *anyOf) eval(s *state) (bool, error) {
	if s.explain {
		return s.group("anyOf", func() (bool, error) { return c.kids2(s) })
	}
	return c.kids2(s)
}

func (c *anyOf) kids2(s *state) (bool, error) {
	for _, k := range c.kids {
		r, err := k.eval(s)
		if err != nil {
			return false, err
		}
		if r {
			return true, nil
		}
	}
	return false, nil
}

type notCond struct{ inner cond }

func (c *notCond) eval(s *state) (bool, error) {
	if s.explain {
		return s.group("not", func() (bool, error) {
			r, err := c.inner.eval(s)
			return !r && err == nil, err
		})
	}
	r, err := c.inner.eval(s)
	return !r && err == nil, err
}

// group evaluates a logical group of the condition tree (explain): its
// node holds the nodes of what eval evaluates, and its result.
func (s *state) group(kind string, eval func() (bool, error)) (bool, error) {
	n := &ConditionNode{Kind: kind, Expression: -1}
	s.attach(n)
	s.open = append(s.open, n)
	r, err := eval()
	s.open = s.open[:len(s.open)-1]
	n.Result = r
	return r, err
}

// attach adds n to the group being evaluated, or makes it the root of
// the tree (the if-condition's; the nodes of an existence condition,
// evaluated after it, join no tree).
func (s *state) attach(n *ConditionNode) {
	if len(s.open) > 0 {
		p := s.open[len(s.open)-1]
		p.Children = append(p.Children, n)
	} else if s.tree == nil {
		s.tree = n
	}
}

// leafCond is subject + operator + operand.
type leafCond struct {
	subj    subject
	op      *operator
	opName  string
	operand expr.Evaluable
	ptr     string
	// typeGuard: this is the top-level type condition the program's types
	// come from (ASCII types, constant operand): true whenever Evaluate's
	// type check passed.
	typeGuard bool
}

func (l *leafCond) eval(s *state) (bool, error) {
	if l.typeGuard && s.typeChecked && !s.explain {
		return true, nil
	}
	var operand value.Value
	if c, ok := l.operand.(expr.Const); ok {
		operand = c.V // most operands: no call
	} else {
		var err error
		if operand, err = l.operand.Eval(&s.a); err != nil {
			return false, err
		}
	}
	r, err := l.subj.test(s, l.op, operand)
	if err != nil {
		return false, err
	}
	if s.explain {
		s.trace = append(s.trace, l.subj.explain(s, l, operand, r))
		s.attach(&ConditionNode{Kind: "condition", Result: r, Expression: len(s.trace) - 1})
	}
	return r, nil
}

// subject is the left-hand side of a condition.
type subject interface {
	test(s *state, op *operator, operand value.Value) (bool, error)
	explain(s *state, l *leafCond, operand value.Value, result bool) ExpressionResult
}

// fieldSubject reads a field of the target resource (or of the current
// count member).
type fieldSubject struct{ f *fieldRef }

func (fs *fieldSubject) root(s *state) value.Value {
	if fs.f.frame >= 0 && fs.f.frame < len(s.a.Frames) {
		return s.a.Frames[fs.f.frame].Value
	}
	return s.a.Target
}

func (fs *fieldSubject) test(s *state, op *operator, operand value.Value) (bool, error) {
	f := fs.f
	root := fs.root(s)
	switch f.kind {
	case fkPath:
	case fkUnknown:
		return op.test(value.Value{}, operand)
	default:
		return op.test(readSpecial(f.kind, root), operand)
	}
	p := s.pathOf(f, root)
	if !p.HasWildcard() {
		v := root.At(p)
		if v.IsUndefined() {
			v = value.NullValue() // a missing field reads as null
		}
		return op.test(v, operand)
	}
	// [*]: every selected value must satisfy the operator; an empty
	// array is true; members' missing properties stay undefined.
	result := true
	var ferr error
	selectValues(root, p, true, func(v value.Value) bool {
		r, err := op.test(v, operand)
		if err != nil {
			ferr = err
			return false
		}
		if !r {
			result = false
			return false
		}
		return true
	})
	return result && ferr == nil, ferr
}

// read returns the field's value as field() sees it.
func (fs *fieldSubject) read(s *state) value.Value {
	root := fs.root(s)
	return readField(fs.f, root, s.pathOf(fs.f, root))
}

// readField reads field f from root along p (the field's path for root).
func readField(f *fieldRef, root value.Value, p value.Path) value.Value {
	switch f.kind {
	case fkPath:
	case fkUnknown:
		return value.Value{}
	default:
		return readSpecial(f.kind, root)
	}
	if !p.HasWildcard() {
		v := root.At(p)
		if f.member || f.frame >= 0 {
			// Inside a count, field() of the counted array (or below it)
			// returns a one-element array.
			if v.IsUndefined() {
				v = value.NullValue()
			}
			return value.ArrayValue([]value.Value{v})
		}
		if v.IsUndefined() {
			return value.NullValue()
		}
		return v
	}
	var out []value.Value
	selectValues(root, p, false, func(v value.Value) bool {
		if !v.IsUndefined() {
			out = append(out, v)
		}
		return true
	})
	return value.ArrayValue(out)
}

func (fs *fieldSubject) explain(s *state, l *leafCond, operand value.Value, result bool) ExpressionResult {
	return ExpressionResult{
		Kind:       "Field",
		Expression: fs.f.text,
		Path:       fs.f.pathText(),
		Value:      fs.read(s),
		Operator:   l.opName,
		Target:     operand,
		Result:     result,
	}
}

// dynFieldSubject is a field given by a non-constant expression.
type dynFieldSubject struct {
	res  *resolver
	e    expr.Evaluable
	text string
}

func (d *dynFieldSubject) resolve(s *state) (*fieldRef, error) {
	v, err := d.e.Eval(&s.a)
	if err != nil {
		return nil, err
	}
	if v.Kind() != value.String {
		return nil, expr.Errorf("the field expression %s evaluated to %s, expected a string", d.text, v.Kind())
	}
	return d.res.resolve(v.Str())
}

func (d *dynFieldSubject) test(s *state, op *operator, operand value.Value) (bool, error) {
	f, err := d.resolve(s)
	if err != nil {
		return false, err
	}
	return (&fieldSubject{f: f}).test(s, op, operand)
}

func (d *dynFieldSubject) explain(s *state, l *leafCond, operand value.Value, result bool) ExpressionResult {
	r := ExpressionResult{Kind: "Field", Expression: d.text, Operator: l.opName, Target: operand, Result: result}
	if f, err := d.resolve(s); err == nil {
		r.Path = f.pathText()
		r.Value = readField(f, s.a.Target, s.pathOf(f, s.a.Target))
	}
	return r
}

// valueSubject is a "value" condition.
type valueSubject struct {
	e    expr.Evaluable
	text string
}

func (vs *valueSubject) test(s *state, op *operator, operand value.Value) (bool, error) {
	v, err := vs.e.Eval(&s.a)
	if err != nil {
		return false, err
	}
	if v.IsUndefined() {
		// A value that does not exist (a missing property of an object)
		// makes the condition false whatever the operator.
		return false, nil
	}
	return op.test(v, operand)
}

func (vs *valueSubject) explain(s *state, l *leafCond, operand value.Value, result bool) ExpressionResult {
	v, _ := vs.e.Eval(&s.a)
	return ExpressionResult{Kind: "Value", Expression: vs.text, Value: v, Operator: l.opName, Target: operand, Result: result}
}

// countSubject is a field count or value count.
type countSubject struct {
	field *fieldRef      // field count
	value expr.Evaluable // value count
	where cond
	frame int // index of this count's frame
	text  string
}

func (cs *countSubject) count(s *state) (int64, error) {
	var n int64
	var ferr error
	visit := func(member value.Value) bool {
		if cs.where == nil {
			n++
			return true
		}
		s.a.Frames = append(s.a.Frames, expr.Frame{Value: member})
		r, err := cs.where.eval(s)
		s.a.Frames = s.a.Frames[:len(s.a.Frames)-1]
		if err != nil {
			ferr = err
			return false
		}
		if r {
			n++
		}
		return true
	}
	if len(s.a.Frames) != cs.frame {
		// Frames out of step would mean a compiler bug; fail safely.
		return 0, expr.Errorf("internal error: count frame %d evaluated at depth %d", cs.frame, len(s.a.Frames))
	}
	if cs.field != nil {
		f := cs.field
		if f.kind != fkPath {
			return 0, nil
		}
		root := s.a.Target
		if f.frame >= 0 && f.frame < len(s.a.Frames) {
			root = s.a.Frames[f.frame].Value
		}
		p := s.pathOf(f, root)
		if f.member {
			visit(root)
		} else {
			selectValues(root, p, false, func(v value.Value) bool {
				if v.IsUndefined() {
					v = value.NullValue()
				}
				return visit(v)
			})
		}
		return n, ferr
	}
	arr, err := cs.value.Eval(&s.a)
	if err != nil {
		return 0, err
	}
	switch arr.Kind() {
	case value.Array:
	case value.Undefined, value.Null:
		return 0, nil
	default:
		return 0, expr.Errorf("count.value must evaluate to an array, got %s", arr.Kind())
	}
	for _, m := range arr.Elems() {
		if !visit(m) {
			break
		}
	}
	return n, ferr
}

func (cs *countSubject) test(s *state, op *operator, operand value.Value) (bool, error) {
	n, err := cs.count(s)
	if err != nil {
		return false, err
	}
	return op.test(value.IntValue(n), operand)
}

func (cs *countSubject) explain(s *state, l *leafCond, operand value.Value, result bool) ExpressionResult {
	saved := s.explain
	s.explain = false
	n, _ := cs.count(s)
	s.explain = saved
	r := ExpressionResult{Kind: "Count", Expression: cs.text, Value: value.IntValue(n), Operator: l.opName, Target: operand, Result: result}
	if cs.field != nil {
		r.Path = cs.field.pathText()
	}
	return r
}

// ---- expression nodes for the policy functions

// fieldFunc is field('<constant>').
type fieldFunc struct{ f *fieldRef }

func (n *fieldFunc) Eval(a *expr.Activation) (value.Value, error) {
	root := a.Resource
	if n.f.frame >= 0 && n.f.frame < len(a.Frames) {
		root = a.Frames[n.f.frame].Value
	}
	return readField(n.f, root, n.f.pathFor(a.APIVersion, root)), nil
}

// Count counts the values field() selects when the field's path has a
// [*] (the length of the array it returns), without building the array.
func (n *fieldFunc) Count(a *expr.Activation) (int, bool, error) {
	f := n.f
	if f.kind != fkPath {
		return 0, false, nil
	}
	root := a.Resource
	if f.frame >= 0 && f.frame < len(a.Frames) {
		root = a.Frames[f.frame].Value
	}
	p := f.pathFor(a.APIVersion, root)
	if !p.HasWildcard() {
		return 0, false, nil
	}
	c := 0
	selectValues(root, p, false, func(v value.Value) bool {
		if !v.IsUndefined() {
			c++
		}
		return true
	})
	return c, true, nil
}

var _ expr.Counter = (*fieldFunc)(nil)

type dynFieldFunc struct {
	res *resolver
	arg expr.Evaluable
}

func (n *dynFieldFunc) Eval(a *expr.Activation) (value.Value, error) {
	v, err := n.arg.Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	if v.Kind() != value.String {
		return value.Value{}, &expr.EvalError{Func: "field", Msg: "expected a string argument, got " + v.Kind().String()}
	}
	f, err := n.res.resolve(v.Str())
	if err != nil {
		return value.Value{}, &expr.EvalError{Func: "field", Msg: err.Error()}
	}
	return readField(f, a.Resource, f.pathFor(a.APIVersion, a.Resource)), nil
}

type paramNode struct {
	names []string
	vals  []value.Value
	arg   expr.Evaluable
}

func (n *paramNode) Eval(a *expr.Activation) (value.Value, error) {
	v, err := n.arg.Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	if v.Kind() != value.String {
		return value.Value{}, &expr.EvalError{Func: "parameters", Msg: "expected a parameter name, got " + v.Kind().String()}
	}
	for i, name := range n.names {
		if value.EqualFold(name, v.Str()) {
			return n.vals[i], nil
		}
	}
	return value.Value{}, &expr.EvalError{Func: "parameters", Msg: "parameter '" + v.Str() + "' is not declared"}
}

type currentNode struct {
	frame int
	rel   value.Path
}

func (n *currentNode) Eval(a *expr.Activation) (value.Value, error) {
	if n.frame >= len(a.Frames) {
		return value.Value{}, &expr.EvalError{Func: "current", Msg: "used outside of its count"}
	}
	v := a.Frames[n.frame].Value
	if len(n.rel) == 0 {
		return v, nil
	}
	if !n.rel.HasWildcard() {
		return v.At(n.rel), nil
	}
	var out []value.Value
	selectValues(v, n.rel, false, func(x value.Value) bool {
		if x.IsUndefined() {
			x = value.NullValue()
		}
		out = append(out, x)
		return true
	})
	return value.ArrayValue(out), nil
}

type ctxNode struct{ which string }

func (n *ctxNode) Eval(a *expr.Activation) (value.Value, error) {
	switch n.which {
	case "requestcontext":
		return a.RequestContext, nil
	case "resourcegroup":
		return a.ResourceGroup, nil
	case "subscription":
		return a.Subscription, nil
	default:
		return a.Policy, nil
	}
}

// opFunc is a comparison template function with condition-operator
// semantics (equals('A', 'a') is true).
type opFunc struct {
	name string
	op   *operator
	args []expr.Evaluable
}

func (n *opFunc) Eval(a *expr.Activation) (value.Value, error) {
	l, err := n.args[0].Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	r, err := n.args[1].Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	if n.op.base != opEquals && n.op.base != opContains && (!present(l) || !present(r)) {
		return value.BoolValue(false), nil
	}
	if l.IsUndefined() {
		l = value.NullValue()
	}
	b, err := n.op.test(l, r)
	if err != nil {
		return value.Value{}, &expr.EvalError{Func: n.name, Msg: err.Error()}
	}
	return value.BoolValue(b), nil
}

// notFunc is not(x): true unless x is true (or "true").
type notFunc struct{ arg expr.Evaluable }

func (n *notFunc) Eval(a *expr.Activation) (value.Value, error) {
	v, err := n.arg.Eval(a)
	if err != nil {
		return value.Value{}, err
	}
	switch v.Kind() {
	case value.Bool:
		return value.BoolValue(!v.Bool()), nil
	case value.String:
		if value.EqualFold(v.Str(), "true") {
			return value.BoolValue(false), nil
		}
		if value.EqualFold(v.Str(), "false") {
			return value.BoolValue(true), nil
		}
	case value.Undefined, value.Null:
		return value.BoolValue(true), nil
	}
	return value.Value{}, &expr.EvalError{Func: "not", Msg: "expected a boolean, got " + v.Kind().String()}
}

func foldOp(e expr.Evaluable, args []expr.Evaluable) expr.Evaluable {
	for _, a := range args {
		if _, ok := expr.IsConst(a); !ok {
			return e
		}
	}
	v, err := e.Eval(&expr.Activation{})
	if err != nil {
		return e
	}
	return expr.Const{V: v}
}
