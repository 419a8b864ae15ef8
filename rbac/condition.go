package rbac

import (
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
)

// Role assignment conditions (Azure ABAC, conditionVersion 2.0), in the
// form Azure documents for delegating role assignment management
// ("Delegate Azure role assignment management to others with
// conditions"; the grammar of "Azure role assignment condition format
// and syntax"):
//
//	(
//	  ( !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) )
//	  OR
//	  ( @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {…}
//	    AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'User', 'Group'} )
//	)
//	AND
//	( ( !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}) ) OR ( @Resource[…] … ) )
//
// A condition is parsed into a small tree (ParseCondition: syntax errors
// are InvalidConditionSyntax with the line and column), then compiled
// once per action it can constrain: ActionMatches is decided for
// roleAssignments/write, roleAssignments/delete and any other action,
// and what is left is that action's residual condition. The compile
// stage refuses (ConditionNotSupported, naming the part) what mlgov does
// not evaluate, so that a condition is never stored as if it held:
//
//   - ActionMatches other than roleAssignments/write and /delete
//     (exactly, no '*'); SubOperationMatches, Exists, other attribute
//     sources (@Principal, @Environment) and other attributes than
//     Microsoft.Authorization/roleAssignments:RoleDefinitionId,
//     PrincipalId and PrincipalType;
//   - operators other than GuidEquals, GuidNotEquals (the GUID
//     attributes), StringEquals[IgnoreCase], StringNotEquals[IgnoreCase]
//     (PrincipalType), each alone or after ForAnyOfAnyValues:,
//     ForAllOfAnyValues:, ForAnyOfAllValues:, ForAllOfAllValues:;
//   - a condition whose residual for other actions is not true (it would
//     constrain actions mlgov has no attributes for), and an attribute
//     its action does not have: a write's attributes are @Request (the
//     assignment written), a delete's @Resource (the assignment deleted),
//     as Azure's "Authorization actions and attributes" lists them.
//
// AND and OR mixed at one level without parentheses are refused: Azure
// documents the order as ambiguous and requires parentheses.
//
// Evaluation takes the residual of the request's action and the
// request's attributes; it does no name lookups. An attribute the
// request does not have makes every comparison on it false.

// Condition is a compiled role assignment condition. It is immutable
// and safe for concurrent use.
type Condition struct {
	src string
	// write and delete are the residual conditions of roleAssignments/write
	// and /delete (the other actions' is true: checked at compile).
	write, delete cnode
}

// String returns the condition as written.
func (c *Condition) String() string { return c.src }

// Attributes are a request's attributes for role assignment conditions.
type Attributes struct {
	// Request is the role assignment a PUT writes (@Request).
	Request *AssignmentAttributes
	// Resource is the stored role assignment a DELETE removes (@Resource).
	Resource *AssignmentAttributes
}

// AssignmentAttributes are a role assignment's attributes: its role's
// GUID (RoleDefinitionId is the GUID at the end of the role definition
// id), its principal and the principal's type.
type AssignmentAttributes struct {
	RoleDefinitionID string
	PrincipalID      string
	PrincipalType    string
}

// AssignmentAttributesOf returns the attributes of a role assignment
// from its properties (any form of the role definition id).
func AssignmentAttributesOf(roleDefinitionID, principalID, principalType string) *AssignmentAttributes {
	return &AssignmentAttributes{RoleDefinitionID: roleGUID(roleDefinitionID), PrincipalID: principalID, PrincipalType: principalType}
}

// The actions conditions are compiled for, lower-cased.
const (
	actionAssignmentWrite  = "microsoft.authorization/roleassignments/write"
	actionAssignmentDelete = "microsoft.authorization/roleassignments/delete"
)

// holds reports whether the condition holds for the lower-cased action
// and the attributes; known is false when at is nil and the action's
// residual condition reads attributes.
func (c *Condition) holds(action string, at *Attributes) (ok, known bool) {
	var n cnode
	switch {
	case len(action) == len(actionAssignmentWrite) && action == actionAssignmentWrite:
		n = c.write
	case len(action) == len(actionAssignmentDelete) && action == actionAssignmentDelete:
		n = c.delete
	default:
		return true, true
	}
	if k, ok := n.(constNode); ok {
		return bool(k), true
	}
	if at == nil {
		return false, false
	}
	return n.eval(at), true
}

// ConditionVersion is the only conditionVersion served.
const ConditionVersion = "2.0"

// ParseCondition parses and compiles a role assignment condition.
// Errors are *arm.Error: InvalidConditionSyntax (a syntax error, with its
// line and column) or ConditionNotSupported (naming the part mlgov does
// not evaluate).
func ParseCondition(src string) (*Condition, error) {
	p := &parser{src: src}
	p.next()
	root, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind != tEOF {
		return nil, p.syntax(p.tok.pos, "unexpected %s after the end of the condition", p.tok)
	}
	if err := check(src, root); err != nil {
		return nil, err
	}
	return compileCondition(src, root)
}

// ---- lexer

type tokKind uint8

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tLBrace
	tRBrace
	tComma
	tNot
	tAnd
	tOr
	tWord   // ActionMatches, an operator, an unquoted GUID
	tString // 'text'
	tAttr   // @Source[name]
	tBad
)

type token struct {
	kind tokKind
	pos  int    // byte offset
	text string // tWord, tString (unquoted), tAttr (the source)
	name string // tAttr: the attribute name
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of condition"
	case tString:
		return "'" + arm.Clip(t.text, 80) + "'"
	case tAttr:
		return "@" + t.text + "[" + arm.Clip(t.name, 120) + "]"
	}
	return "'" + arm.Clip(t.text, 80) + "'"
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-' || c == '/'
}

type parser struct {
	src string
	off int
	tok token
	err error // a lexical error, reported by the parser at its token
}

// next reads the next token into p.tok.
func (p *parser) next() {
	s := p.src
	for p.off < len(s) && (s[p.off] == ' ' || s[p.off] == '\t' || s[p.off] == '\n' || s[p.off] == '\r') {
		p.off++
	}
	start := p.off
	if p.off >= len(s) {
		p.tok = token{kind: tEOF, pos: start}
		return
	}
	one := func(k tokKind) { p.off++; p.tok = token{kind: k, pos: start, text: s[start:p.off]} }
	switch c := s[p.off]; {
	case c == '(':
		one(tLParen)
	case c == ')':
		one(tRParen)
	case c == '{':
		one(tLBrace)
	case c == '}':
		one(tRBrace)
	case c == ',':
		one(tComma)
	case c == '!':
		one(tNot)
	case c == '&' || c == '|':
		if p.off+1 < len(s) && s[p.off+1] == c {
			p.off += 2
			k := tAnd
			if c == '|' {
				k = tOr
			}
			p.tok = token{kind: k, pos: start, text: s[start:p.off]}
			return
		}
		p.off++
		p.tok = token{kind: tBad, pos: start, text: s[start:p.off]}
	case c == '\'':
		end := strings.IndexByte(s[p.off+1:], '\'')
		if end < 0 {
			p.off = len(s)
			p.tok = token{kind: tBad, pos: start, text: "'"}
			p.err = p.syntax(start, "the string that starts here is not closed with '")
			return
		}
		p.tok = token{kind: tString, pos: start, text: s[p.off+1 : p.off+1+end]}
		p.off += end + 2
	case c == '@':
		i := p.off + 1
		for i < len(s) && isWordByte(s[i]) {
			i++
		}
		src := s[p.off+1 : i]
		if src == "" || i >= len(s) || s[i] != '[' {
			p.off = i
			p.tok = token{kind: tBad, pos: start, text: s[start:i]}
			p.err = p.syntax(start, "an attribute is written @Source[name], e.g. @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]")
			return
		}
		end := strings.IndexByte(s[i+1:], ']')
		if end < 0 {
			p.off = len(s)
			p.tok = token{kind: tBad, pos: start, text: s[start:]}
			p.err = p.syntax(start, "the attribute that starts here is not closed with ]")
			return
		}
		p.tok = token{kind: tAttr, pos: start, text: src, name: strings.TrimSpace(s[i+1 : i+1+end])}
		p.off = i + end + 2
	case isWordByte(c):
		i := p.off
		for i < len(s) && isWordByte(s[i]) {
			i++
		}
		w := s[p.off:i]
		p.off = i
		k := tWord
		switch {
		case strings.EqualFold(w, "AND"):
			k = tAnd
		case strings.EqualFold(w, "OR"):
			k = tOr
		case strings.EqualFold(w, "NOT"):
			k = tNot
		}
		p.tok = token{kind: k, pos: start, text: w}
	default:
		p.off++
		p.tok = token{kind: tBad, pos: start, text: s[start:p.off]}
	}
}

// lineCol is the 1-based line and column of a byte offset.
func lineCol(src string, off int) (line, col int) {
	line = 1 + strings.Count(src[:off], "\n")
	return line, off - strings.LastIndexByte(src[:off], '\n')
}

func (p *parser) syntax(pos int, format string, args ...any) error {
	return conditionError("InvalidConditionSyntax", p.src, pos, format, args...)
}

func conditionError(code, src string, pos int, format string, args ...any) *arm.Error {
	line, col := lineCol(src, pos)
	var e *arm.Error
	if code == "InvalidConditionSyntax" {
		e = arm.Errorf(code, "The given role assignment condition is invalid: at line %d, column %d (offset %d): %s.", line, col, pos, fmt.Sprintf(format, args...))
	} else {
		e = arm.Errorf(code, "The role assignment condition is not supported by mlgov: at line %d, column %d (offset %d): %s. mlgov evaluates conditions on Microsoft.Authorization/roleAssignments/write and /delete over the role, principal and principal type of the assignment (docs/rbac.md).", line, col, pos, fmt.Sprintf(format, args...))
	}
	e.Target = "/properties/condition"
	return e
}

// ---- parser: the tree

type node interface{ at() int }

// boolNode is AND (and) or OR (!and) of its operands.
type boolNode struct {
	and  bool
	args []node
	pos  int
}

type notNode struct {
	x   node
	pos int
}

type actionNode struct {
	action string
	pos    int
}

// compareNode is @Source[attribute] operator value(s).
type compareNode struct {
	source, attr string
	attrPos      int
	op           string
	opPos        int
	values       []token
	set          bool // the values are a {…} set
}

func (n *boolNode) at() int    { return n.pos }
func (n *notNode) at() int     { return n.pos }
func (n *actionNode) at() int  { return n.pos }
func (n *compareNode) at() int { return n.attrPos }

// maxDepth bounds nesting (a hostile condition must not exhaust the
// stack).
const maxDepth = 64

// expr := unary { (AND|OR) unary }, one kind of operator per level.
func (p *parser) expr() (node, error) {
	return p.exprDepth(0)
}

func (p *parser) exprDepth(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.syntax(p.tok.pos, "the condition nests more than %d levels", maxDepth)
	}
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tAnd && p.tok.kind != tOr {
		return first, nil
	}
	b := &boolNode{and: p.tok.kind == tAnd, args: []node{first}, pos: first.at()}
	for p.tok.kind == tAnd || p.tok.kind == tOr {
		if (p.tok.kind == tAnd) != b.and {
			return nil, p.syntax(p.tok.pos, "AND and OR are mixed without parentheses: group them, e.g. (a AND b) OR c")
		}
		p.next()
		x, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		b.args = append(b.args, x)
	}
	return b, nil
}

// unary := (NOT|!) unary | primary
func (p *parser) unary(depth int) (node, error) {
	if p.tok.kind == tNot {
		pos := p.tok.pos
		p.next()
		if depth+1 > maxDepth {
			return nil, p.syntax(pos, "the condition nests more than %d levels", maxDepth)
		}
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &notNode{x: x, pos: pos}, nil
	}
	return p.primary(depth)
}

// primary := ( expr ) | ActionMatches{'action'} | @Source[attr] operator values
func (p *parser) primary(depth int) (node, error) {
	if p.err != nil {
		return nil, p.err
	}
	t := p.tok
	switch t.kind {
	case tLParen:
		p.next()
		x, err := p.exprDepth(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.expected("')' to close the '(' at %s", posText(p.src, t.pos))
		}
		p.next()
		return x, nil
	case tAttr:
		p.next()
		if p.err != nil {
			return nil, p.err
		}
		if p.tok.kind != tWord {
			return nil, p.expected("an operator after %s", t)
		}
		c := &compareNode{source: t.text, attr: t.name, attrPos: t.pos, op: p.tok.text, opPos: p.tok.pos}
		p.next()
		return c, p.values(c)
	case tWord:
		switch {
		case strings.EqualFold(t.text, "ActionMatches"), strings.EqualFold(t.text, "SubOperationMatches"):
			p.next()
			if p.tok.kind != tLBrace {
				return nil, p.expected("'{' after %s", t.text)
			}
			p.next()
			if p.tok.kind != tString {
				return nil, p.expected("the quoted action of %s{'…'}", t.text)
			}
			s := p.tok
			p.next()
			if p.tok.kind != tRBrace {
				return nil, p.expected("'}' to close %s{", t.text)
			}
			p.next()
			if strings.EqualFold(t.text, "SubOperationMatches") {
				return nil, conditionError("ConditionNotSupported", p.src, t.pos, "SubOperationMatches{%s} is not supported (no suboperations of the role assignment actions are)", s)
			}
			return &actionNode{action: s.text, pos: t.pos}, nil
		case strings.EqualFold(t.text, "Exists"):
			return nil, conditionError("ConditionNotSupported", p.src, t.pos, "the operator Exists is not supported")
		}
	}
	return nil, p.expected("'(', '!', NOT, ActionMatches{…} or an attribute such as @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]")
}

// values reads the right-hand side of a comparison: one value, or a set
// {v, …}. A value is a quoted string or an unquoted GUID.
func (p *parser) values(c *compareNode) error {
	value := func() error {
		if p.err != nil {
			return p.err
		}
		if p.tok.kind != tString && p.tok.kind != tWord {
			return p.expected("a value (a quoted string or a GUID)")
		}
		c.values = append(c.values, p.tok)
		p.next()
		return nil
	}
	if p.tok.kind != tLBrace {
		return value()
	}
	c.set = true
	open := p.tok.pos
	p.next()
	if err := value(); err != nil {
		return err
	}
	for p.tok.kind == tComma {
		p.next()
		if err := value(); err != nil {
			return err
		}
	}
	if p.tok.kind != tRBrace {
		return p.expected("',' or '}' to close the set that starts at %s", posText(p.src, open))
	}
	p.next()
	return p.err
}

func (p *parser) expected(format string, args ...any) error {
	if p.err != nil {
		return p.err
	}
	return p.syntax(p.tok.pos, "expected %s, found %s", fmt.Sprintf(format, args...), p.tok)
}

func posText(src string, off int) string {
	l, c := lineCol(src, off)
	return fmt.Sprintf("line %d, column %d", l, c)
}

// ---- compile: validate names, decide ActionMatches per action, lower

// attribute is an attribute of the role assignment actions.
type attribute uint8

const (
	attrRole attribute = iota
	attrPrincipal
	attrPrincipalType
)

var attributeNames = [...]string{
	attrRole:          "Microsoft.Authorization/roleAssignments:RoleDefinitionId",
	attrPrincipal:     "Microsoft.Authorization/roleAssignments:PrincipalId",
	attrPrincipalType: "Microsoft.Authorization/roleAssignments:PrincipalType",
}

// cnode is a compiled condition.
type cnode interface {
	eval(at *Attributes) bool
}

type constNode bool

func (k constNode) eval(*Attributes) bool { return bool(k) }

type andNode []cnode

func (n andNode) eval(at *Attributes) bool {
	for _, x := range n {
		if !x.eval(at) {
			return false
		}
	}
	return true
}

type orNode []cnode

func (n orNode) eval(at *Attributes) bool {
	for _, x := range n {
		if x.eval(at) {
			return true
		}
	}
	return false
}

type notCNode struct{ x cnode }

func (n notCNode) eval(at *Attributes) bool { return !n.x.eval(at) }

// cmpNode compares one attribute with its values: equal (or not, neg),
// ignoring case (fold) or not; against any of the values, or all (all).
type cmpNode struct {
	resource bool // @Resource (else @Request)
	attr     attribute
	neg      bool
	fold     bool
	all      bool
	values   []string
	pos      int
}

func (n *cmpNode) eval(at *Attributes) bool {
	a := at.Request
	if n.resource {
		a = at.Resource
	}
	if a == nil {
		return false
	}
	var v string
	switch n.attr {
	case attrRole:
		v = a.RoleDefinitionID
	case attrPrincipal:
		v = a.PrincipalID
	default:
		v = a.PrincipalType
	}
	for _, w := range n.values {
		eq := v == w || n.fold && strings.EqualFold(v, w)
		if eq != n.neg { // this value satisfies the comparison
			if !n.all {
				return true
			}
		} else if n.all {
			return false
		}
	}
	return n.all
}

// check validates every action and comparison of the tree, reachable
// or not: what mlgov does not evaluate is refused wherever it is.
func check(src string, n node) error {
	switch n := n.(type) {
	case *actionNode:
		if a := strings.ToLower(strings.TrimSpace(n.action)); a != actionAssignmentWrite && a != actionAssignmentDelete {
			return conditionError("ConditionNotSupported", src, n.pos, "ActionMatches{'%s'} is not supported: only 'Microsoft.Authorization/roleAssignments/write' and 'Microsoft.Authorization/roleAssignments/delete' are (without '*')", arm.Clip(n.action, 200))
		}
	case *notNode:
		return check(src, n.x)
	case *boolNode:
		for _, x := range n.args {
			if err := check(src, x); err != nil {
				return err
			}
		}
	case *compareNode:
		_, err := compileCompare(src, n)
		return err
	}
	return nil
}

// compileCondition compiles the residual condition
// of each action.
func compileCondition(src string, root node) (*Condition, error) {
	other, err := lower(src, root, "")
	if err != nil {
		return nil, err
	}
	if k, ok := other.(constNode); !ok || !bool(k) {
		pos := 0
		if n, ok := other.(*cmpNode); ok {
			pos = n.pos
		} else if cmp := firstCompare(root); cmp != nil {
			pos = cmp.attrPos
		}
		return nil, conditionError("ConditionNotSupported", src, pos, "the condition does not hold for every action other than roleAssignments/write and /delete: write it as ( !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) ) OR ( … ), one such clause per action, joined by AND")
	}
	c := &Condition{src: src}
	if c.write, err = lower(src, root, actionAssignmentWrite); err != nil {
		return nil, err
	}
	if c.delete, err = lower(src, root, actionAssignmentDelete); err != nil {
		return nil, err
	}
	return c, nil
}

func firstCompare(n node) *compareNode {
	switch n := n.(type) {
	case *compareNode:
		return n
	case *notNode:
		return firstCompare(n.x)
	case *boolNode:
		for _, x := range n.args {
			if c := firstCompare(x); c != nil {
				return c
			}
		}
	}
	return nil
}

// lower compiles the checked n for the lower-cased action ("" for any
// other action): ActionMatches becomes a constant, constants fold, and
// the comparisons left must read attributes the action has.
func lower(src string, n node, action string) (cnode, error) {
	switch n := n.(type) {
	case *actionNode:
		return constNode(strings.ToLower(strings.TrimSpace(n.action)) == action), nil
	case *notNode:
		x, err := lower(src, n.x, action)
		if err != nil {
			return nil, err
		}
		if k, ok := x.(constNode); ok {
			return !k, nil
		}
		return notCNode{x}, nil
	case *boolNode:
		var out []cnode
		for _, a := range n.args {
			x, err := lower(src, a, action)
			if err != nil {
				return nil, err
			}
			if k, ok := x.(constNode); ok {
				if bool(k) != n.and { // false in AND, true in OR: decided
					return k, nil
				}
				continue // true in AND, false in OR: no effect
			}
			out = append(out, x)
		}
		switch {
		case len(out) == 0:
			return constNode(n.and), nil
		case len(out) == 1:
			return out[0], nil
		case n.and:
			return andNode(out), nil
		}
		return orNode(out), nil
	case *compareNode:
		cmp, err := compileCompare(src, n)
		if err != nil {
			return nil, err
		}
		switch {
		case action == actionAssignmentWrite && cmp.resource:
			return nil, conditionError("ConditionNotSupported", src, n.attrPos, "@%s[%s] is not an attribute of Microsoft.Authorization/roleAssignments/write, whose attributes are @Request[…] (the assignment written): target the write and the delete in separate clauses", n.source, n.attr)
		case action == actionAssignmentDelete && !cmp.resource:
			return nil, conditionError("ConditionNotSupported", src, n.attrPos, "@%s[%s] is not an attribute of Microsoft.Authorization/roleAssignments/delete, whose attributes are @Resource[…] (the assignment deleted): target the write and the delete in separate clauses", n.source, n.attr)
		}
		return cmp, nil
	}
	return nil, fmt.Errorf("rbac: condition node %T", n)
}

// compileCompare checks a comparison's source, attribute, operator and
// values.
func compileCompare(src string, n *compareNode) (*cmpNode, error) {
	c := &cmpNode{pos: n.attrPos}
	switch {
	case strings.EqualFold(n.source, "Request"):
	case strings.EqualFold(n.source, "Resource"):
		c.resource = true
	default:
		return nil, conditionError("ConditionNotSupported", src, n.attrPos, "the attribute source @%s is not supported: only @Request and @Resource are", arm.Clip(n.source, 40))
	}
	found := false
	for i, name := range attributeNames {
		if strings.EqualFold(n.attr, name) {
			c.attr, found = attribute(i), true
		}
	}
	if !found {
		return nil, conditionError("ConditionNotSupported", src, n.attrPos, "the attribute @%s[%s] is not supported: only %s are", n.source, arm.Clip(n.attr, 200), strings.Join(attributeNames[:], ", "))
	}
	op := n.op
	quantified := false
	if q, f, ok := strings.Cut(op, ":"); ok {
		quantified = true
		switch {
		case strings.EqualFold(q, "ForAnyOfAnyValues"), strings.EqualFold(q, "ForAllOfAnyValues"):
		case strings.EqualFold(q, "ForAnyOfAllValues"), strings.EqualFold(q, "ForAllOfAllValues"):
			c.all = true
		default:
			return nil, conditionError("ConditionNotSupported", src, n.opPos, "the operator '%s' is not supported", arm.Clip(op, 80))
		}
		op = f
	}
	guid := c.attr != attrPrincipalType
	switch {
	case guid && strings.EqualFold(op, "GuidEquals"):
		c.fold = true
	case guid && strings.EqualFold(op, "GuidNotEquals"):
		c.fold, c.neg = true, true
	case !guid && strings.EqualFold(op, "StringEquals"):
	case !guid && strings.EqualFold(op, "StringEqualsIgnoreCase"):
		c.fold = true
	case !guid && strings.EqualFold(op, "StringNotEquals"):
		c.neg = true
	case !guid && strings.EqualFold(op, "StringNotEqualsIgnoreCase"):
		c.neg, c.fold = true, true
	default:
		want := "GuidEquals or GuidNotEquals"
		if !guid {
			want = "StringEquals, StringEqualsIgnoreCase, StringNotEquals or StringNotEqualsIgnoreCase"
		}
		return nil, conditionError("ConditionNotSupported", src, n.opPos, "the operator '%s' is not supported on %s: use %s, alone or after ForAnyOfAnyValues:, ForAllOfAnyValues:, ForAnyOfAllValues: or ForAllOfAllValues:", arm.Clip(n.op, 80), attributeNames[c.attr], want)
	}
	if !quantified && len(n.values) > 1 {
		return nil, conditionError("InvalidConditionSyntax", src, n.opPos, "the operator '%s' compares with one value; a set of values needs ForAnyOfAnyValues:%s or another cross-product operator", n.op, op)
	}
	for _, v := range n.values {
		switch {
		case guid && !uuid.Valid(v.text):
			return nil, conditionError("InvalidConditionSyntax", src, v.pos, "%s is not a GUID (%s compares GUIDs)", v, attributeNames[c.attr])
		case !guid && v.kind != tString:
			return nil, conditionError("InvalidConditionSyntax", src, v.pos, "%s is not a quoted string (%s compares strings)", v, attributeNames[c.attr])
		}
		c.values = append(c.values, v.text)
	}
	return c, nil
}
